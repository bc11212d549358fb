/**
 * Schema inference shared by the file sources: per-column statistics over the sampled rows, and
 * the rules that turn them into column kinds and a task.
 *
 * - A feature column is numeric when at least 99% of its non-missing sampled values are numbers
 *   (see `field-values.ts`); otherwise categorical. A column with no sampled values is numeric.
 *   So one typo in a numeric column does not turn it into hundreds of one-hot inputs: the typo is
 *   a bad value when batches are read (an error naming file, line and column, or a skipped row).
 *   `categorical` and `numeric` in the options override the rule per column.
 * - With `typedNumbers` (JSON Lines) a column also needs at least one JSON number to be numeric:
 *   a column whose values are all strings was quoted on purpose (zip codes, ids) and stays
 *   categorical, while a numeric column may still carry the odd number written as a string.
 * - Task, when not given: a non-numeric label means classification; a numeric label whose sampled
 *   values are all integers with at most `kMaxInferredClasses` distinct values means
 *   classification; any other numeric label means regression.
 *
 * @module
 */
import { DataEmptyError, InvalidOptionError, LabelNotFoundError } from '../errors.js';
import { kMaxInferredClasses, type FilledInferOptions } from './data-options.js';
import { isNonFiniteText, isNumberText } from './field-values.js';
import { kDefaultNa, kDefaultNaValues, type NaValues } from './na-values.js';
import type { ColumnSchema, Schema, Task } from './types.js';

/** Share of a column's non-missing sampled values that must be numbers for it to be numeric. */
export const kNumericShare = 0.99;

/**
 * Column names for a message: at most 20, then how many there are in all (a header may have
 * thousands).
 *
 * @param names - The columns.
 */
export function listColumns(names: readonly string[]): string {
  const shown = names.slice(0, 20).join(', ');
  return names.length > 20 ? `${shown}, ... (${names.length} columns in all)` : shown;
}

/** What the sampled values of one column looked like. */
export class ColumnStats {
  /** Sampled values that were not missing. */
  nonMissing = 0;
  /** Non-missing values that were numbers, number-like strings or non-finite literals. */
  numbers = 0;
  /** Every non-missing value was number-like. */
  get numberLike(): boolean {
    return this.numbers === this.nonMissing;
  }
  /** At least one value was a JSON number (not a string). */
  sawTypedNumber = false;
  /** Every finite numeric value was an integer. */
  allIntegers = true;
  /** Distinct finite numeric values, as canonical strings; stops growing past the class limit. */
  readonly distinct = new Set<string>();

  /**
   * Records one text value (a CSV field or a JSON string).
   *
   * @param na - The missing-value tokens.
   */
  observeText(text: string, na: NaValues = kDefaultNa): void {
    if (na.isMissing(text)) return;
    this.nonMissing++;
    if (isNumberText(text)) {
      this.numbers++;
      this.#observeNumber(Number(text));
    } else if (isNonFiniteText(text)) {
      this.numbers++;
    }
  }

  /** Records one value a parser already read as a finite number (never a missing-value token). */
  observeNumber(value: number): void {
    this.nonMissing++;
    this.numbers++;
    this.#observeNumber(value);
  }

  /** Records one JSON value: null is missing, strings follow the text rules. */
  observeJson(value: unknown, na: NaValues = kDefaultNa): void {
    if (value === null || value === undefined) return;
    if (typeof value === 'string') {
      this.observeText(value, na);
      return;
    }
    this.nonMissing++;
    if (typeof value === 'number') {
      this.sawTypedNumber = true;
      this.numbers++;
      this.#observeNumber(value);
    }
  }

  /** Whether the column counts as numeric: at least {@link kNumericShare} of its values are numbers. */
  isNumeric(typedNumbers: boolean): boolean {
    if (this.nonMissing === 0) return true;
    return (
      this.numbers >= kNumericShare * this.nonMissing && (!typedNumbers || this.sawTypedNumber)
    );
  }

  #observeNumber(value: number): void {
    // JSON numbers beyond float64 arrive as Infinity: like non-finite literals, they keep the
    // column numeric and are reported when batches are read.
    if (!Number.isFinite(value)) return;
    if (!Number.isInteger(value)) this.allIntegers = false;
    if (this.distinct.size <= kMaxInferredClasses) this.distinct.add(String(value));
  }
}

/** The sampled columns of a file, in file order. */
export interface ColumnSample {
  readonly names: readonly string[];
  readonly stats: readonly ColumnStats[];
  /** Data rows read, bad ones included. */
  readonly rows: number;
  /** JSON Lines: a numeric column needs at least one JSON number. */
  readonly typedNumbers: boolean;
}

/**
 * Turns a column sample into a schema.
 *
 * @param sample - Statistics of the sampled rows.
 * @param options - Filled inference options.
 * @param where - The file, for messages.
 * @returns A frozen schema.
 * @throws DataEmptyError when no data rows were sampled, or the label had no values and the task
 *   was not given; LabelNotFoundError listing the columns when the label column is absent.
 */
export function buildSchema(
  sample: ColumnSample,
  options: FilledInferOptions,
  where: string,
): Schema {
  if (sample.rows === 0) throw new DataEmptyError(`${where} has no data rows`);
  const labelAt = sample.names.indexOf(options.label);
  if (labelAt < 0) {
    throw new LabelNotFoundError(
      `label column '${options.label}' is not in ${where}; columns: ${listColumns(sample.names)}`,
    );
  }
  const forced = forcedKinds(sample.names, options, where);
  const columns: ColumnSchema[] = [];
  sample.names.forEach((name, i) => {
    if (i === labelAt) return;
    const kind =
      forced.get(name) ??
      (sample.stats[i]!.isNumeric(sample.typedNumbers) ? 'numeric' : 'categorical');
    columns.push(Object.freeze({ name, kind }));
  });
  const task =
    options.task ?? inferTask(sample.stats[labelAt]!, sample.typedNumbers, options, where);
  return Object.freeze({
    columns: Object.freeze(columns),
    numeric: Object.freeze(columns.filter((c) => c.kind === 'numeric').map((c) => c.name)),
    categorical: Object.freeze(columns.filter((c) => c.kind === 'categorical').map((c) => c.name)),
    label: options.label,
    task,
    ...(options.naValues === kDefaultNaValues
      ? {}
      : { naValues: Object.freeze([...options.naValues]) }),
  });
}

/** The kinds the options force, checked against the file's columns. */
function forcedKinds(
  names: readonly string[],
  options: FilledInferOptions,
  where: string,
): Map<string, 'numeric' | 'categorical'> {
  const forced = new Map<string, 'numeric' | 'categorical'>();
  for (const kind of ['categorical', 'numeric'] as const) {
    for (const name of options[kind]) {
      if (name === options.label) {
        throw new InvalidOptionError(
          `column '${name}' is the label; it cannot also be a ${kind} feature`,
        );
      }
      if (!names.includes(name)) {
        throw new InvalidOptionError(
          `column '${name}' (given as ${kind}) is not in ${where}; columns: ${listColumns(names)}`,
        );
      }
      if (forced.has(name)) {
        throw new InvalidOptionError(
          `column '${name}' is given as both categorical and numeric; give it once`,
        );
      }
      forced.set(name, kind);
    }
  }
  return forced;
}

function inferTask(
  label: ColumnStats,
  typedNumbers: boolean,
  options: FilledInferOptions,
  where: string,
): Task {
  if (label.nonMissing === 0) {
    throw new DataEmptyError(
      `label column '${options.label}' has no values in the first ${options.sampleRows} rows of ` +
        `${where}, so the task cannot be inferred; give it explicitly`,
    );
  }
  if (!label.isNumeric(typedNumbers)) return 'classification';
  return label.allIntegers && label.distinct.size <= kMaxInferredClasses
    ? 'classification'
    : 'regression';
}
