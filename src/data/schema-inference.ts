/**
 * Schema inference shared by the file sources: per-column statistics over the sampled rows, and
 * the rules that turn them into column kinds and a task.
 *
 * - A feature column is numeric when every non-missing sampled value is a number (see
 *   `field-values.ts`); otherwise categorical. A column with no sampled values is numeric.
 * - With `typedNumbers` (JSON Lines) a column also needs at least one JSON number to be numeric:
 *   a column whose values are all strings was quoted on purpose (zip codes, ids) and stays
 *   categorical, while a numeric column may still carry the odd number written as a string.
 * - Task, when not given: a non-numeric label means classification; a numeric label whose sampled
 *   values are all integers with at most `kMaxInferredClasses` distinct values means
 *   classification; any other numeric label means regression.
 *
 * @module
 */
import { DataEmptyError, LabelNotFoundError } from '../errors.js';
import { kMaxInferredClasses, type FilledInferOptions } from './data-options.js';
import { isMissingText, isNonFiniteText, isNumberText } from './field-values.js';
import type { ColumnSchema, Schema, Task } from './types.js';

/** What the sampled values of one column looked like. */
export class ColumnStats {
  /** Sampled values that were not missing. */
  nonMissing = 0;
  /** Every non-missing value was a number, a number-like string or a non-finite literal. */
  numberLike = true;
  /** At least one value was a JSON number (not a string). */
  sawTypedNumber = false;
  /** Every finite numeric value was an integer. */
  allIntegers = true;
  /** Distinct finite numeric values, as canonical strings; stops growing past the class limit. */
  readonly distinct = new Set<string>();

  /** Records one text value (a CSV field or a JSON string). */
  observeText(text: string): void {
    if (isMissingText(text)) return;
    this.nonMissing++;
    if (!this.numberLike) return;
    if (isNumberText(text)) this.#observeNumber(Number(text));
    else if (!isNonFiniteText(text)) this.numberLike = false;
  }

  /** Records one JSON value: null is missing, strings follow the text rules. */
  observeJson(value: unknown): void {
    if (value === null || value === undefined) return;
    if (typeof value === 'string') {
      this.observeText(value);
      return;
    }
    this.nonMissing++;
    if (typeof value === 'number') {
      this.sawTypedNumber = true;
      if (this.numberLike) this.#observeNumber(value);
    } else {
      this.numberLike = false;
    }
  }

  /** Whether the column counts as numeric. */
  isNumeric(typedNumbers: boolean): boolean {
    return this.numberLike && (!typedNumbers || this.sawTypedNumber || this.nonMissing === 0);
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
      `label column '${options.label}' is not in ${where}; columns: ${sample.names.join(', ')}`,
    );
  }
  const columns: ColumnSchema[] = [];
  sample.names.forEach((name, i) => {
    if (i === labelAt) return;
    const kind = sample.stats[i]!.isNumeric(sample.typedNumbers) ? 'numeric' : 'categorical';
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
  });
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
