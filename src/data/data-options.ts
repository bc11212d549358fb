/**
 * Defaults and validation of the options every data source takes (`InferOptions`,
 * `BatchOptions`), so each source validates them the same way at its public boundary.
 *
 * @module
 */
import { InvalidOptionError } from '../errors.js';
import { kDefaultNaValues } from './na-values.js';
import type { BatchOptions, InferOptions, Task } from './types.js';

/** `InferOptions` with every default filled in. */
export interface FilledInferOptions {
  readonly label: string;
  /** Undefined: infer the task from the label column. */
  readonly task: Task | undefined;
  readonly sampleRows: number;
  /** Missing-value tokens (`kDefaultNaValues` itself when not given). */
  readonly naValues: readonly string[];
  /** Columns forced categorical / numeric. */
  readonly categorical: readonly string[];
  readonly numeric: readonly string[];
}

/** Default inference options. */
export const kDefaultInferOptions = Object.freeze({
  /** Leading data rows read to infer column kinds and the task (rows). */
  sampleRows: 10_000,
});

/**
 * A numeric label is taken for classes when its sampled values are all integers with at most
 * this many distinct values; beyond that it is more likely a count or a measurement.
 */
export const kMaxInferredClasses = 50;

const kTasks: readonly Task[] = ['classification', 'regression'];
const kBadRowPolicies = ['error', 'skip'] as const;

function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

function assertObject(options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError(`options must be an object, got ${show(options)}`);
  }
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/**
 * Validates inference options and fills in the defaults.
 *
 * @param options - As given by the caller.
 * @returns The filled, frozen options.
 * @throws InvalidOptionError naming the option, the expectation and the value given.
 */
export function resolveInferOptions(options: InferOptions): FilledInferOptions {
  assertObject(options);
  const {
    label,
    task,
    sampleRows = kDefaultInferOptions.sampleRows,
    naValues = kDefaultNaValues,
    categorical = [],
    numeric = [],
  } = options;
  if (typeof label !== 'string' || label.length === 0) {
    throw new InvalidOptionError(`options.label must be a non-empty string, got ${show(label)}`);
  }
  if (task !== undefined && !kTasks.includes(task)) {
    throw new InvalidOptionError(
      `options.task must be one of ${kTasks.join(', ')}, got ${show(task)}`,
    );
  }
  if (!isPositiveInteger(sampleRows)) {
    throw new InvalidOptionError(
      `options.sampleRows must be a positive integer, got ${show(sampleRows)}`,
    );
  }
  if (!Array.isArray(naValues) || naValues.some((v) => typeof v !== 'string')) {
    throw new InvalidOptionError(
      `options.naValues must be an array of strings, got ${show(naValues)}`,
    );
  }
  for (const [name, list] of [
    ['categorical', categorical],
    ['numeric', numeric],
  ] as const) {
    if (!Array.isArray(list) || list.some((v) => typeof v !== 'string' || v === '')) {
      throw new InvalidOptionError(
        `options.${name} must be an array of column names, got ${show(list)}`,
      );
    }
  }
  return Object.freeze({ label, task, sampleRows, naValues, categorical, numeric });
}

/**
 * Validates batch options.
 *
 * @param options - As given by the caller.
 * @returns A frozen copy.
 * @throws InvalidOptionError naming the option, the expectation and the value given.
 */
export function resolveBatchOptions(options: BatchOptions): BatchOptions {
  assertObject(options);
  const { batchRows, onBadRow } = options;
  if (!isPositiveInteger(batchRows)) {
    throw new InvalidOptionError(
      `options.batchRows must be a positive integer, got ${show(batchRows)}`,
    );
  }
  if (!kBadRowPolicies.includes(onBadRow)) {
    throw new InvalidOptionError(
      `options.onBadRow must be one of ${kBadRowPolicies.join(', ')}, got ${show(onBadRow)}`,
    );
  }
  return Object.freeze({ batchRows, onBadRow });
}
