/**
 * A synthetic dataset as a data source: `synthetic:rows=1000000,features=32,classes=4,seed=7`
 * (keys in `synthetic-spec.ts`, generation in `synthetic-rows.ts`).
 *
 * Columns are `f0..f{features-1}` (numeric) and the label `label`. Batch k holds rows
 * k·batchRows onwards; each is generated when it is asked for, so memory stays flat whatever
 * `rows` is, and any batch can be regenerated anywhere from the spec alone.
 *
 * @module
 */
import { InvalidOptionError, LabelNotFoundError } from '../errors.js';
import { BatchBuilder } from './batch-builder.js';
import { resolveBatchOptions, resolveInferOptions } from './data-options.js';
import { generateRows } from './synthetic-rows.js';
import { parseSyntheticSpec, type SyntheticSpec } from './synthetic-spec.js';
import type {
  BatchOptions,
  DataSource,
  InferOptions,
  RandomAccess,
  RawBatch,
  Schema,
} from './types.js';

/** The label column of every synthetic dataset. */
export const kSyntheticLabel = 'label';

/** Feature values generated per call to `generateRows` (4 MiB of float32), whatever the batch size. */
const kGenerateValues = 1 << 20;

/**
 * A deterministic synthetic dataset.
 *
 * @example
 * const source = new SyntheticSource('synthetic:rows=1000000,features=32,classes=4,seed=7');
 * const schema = await source.inferSchema({ label: source.defaultLabel });
 */
export class SyntheticSource implements DataSource {
  readonly description: string;
  readonly defaultLabel = kSyntheticLabel;
  /** The parsed spec. */
  readonly spec: SyntheticSpec;

  /**
   * @param text - The spec, e.g. `synthetic:rows=1000,features=8`.
   * @throws InvalidOptionError naming the bad key, what was expected and what was given.
   */
  constructor(text: string) {
    this.spec = parseSyntheticSpec(text);
    this.description = text;
  }

  /**
   * Returns the schema; nothing is sampled, the spec says it all.
   *
   * @throws InvalidOptionError when `task` contradicts the spec; LabelNotFoundError when `label`
   *   is not `label`.
   */
  async inferSchema(options: InferOptions): Promise<Schema> {
    const { label, task } = resolveInferOptions(options);
    const names = Array.from({ length: this.spec.features }, (_, i) => `f${i}`);
    if (label !== kSyntheticLabel) {
      const shown = names.length > 12 ? [...names.slice(0, 10), '...', names.at(-1)!] : names;
      throw new LabelNotFoundError(
        `label column '${label}' is not in ${this.description}; columns: ${[...shown, kSyntheticLabel].join(', ')}`,
      );
    }
    this.#checkTask(task);
    return Object.freeze({
      columns: Object.freeze(
        names.map((name) => Object.freeze({ name, kind: 'numeric' as const })),
      ),
      numeric: Object.freeze(names),
      categorical: Object.freeze([]),
      label,
      task: this.spec.task,
    });
  }

  /**
   * Generates the dataset as raw batches. The schema may name any subset of the feature columns,
   * in any order. Classification labels are the class indices as strings (`'0'`, `'1'`, ...).
   *
   * @throws (by rejecting) InvalidOptionError for bad options or a schema that does not fit the
   *   spec.
   */
  async *batches(schema: Schema, options: BatchOptions): AsyncGenerator<RawBatch> {
    const { batchRows } = resolveBatchOptions(options);
    yield* this.#build(schema, batchRows, 0, this.spec.rows);
  }

  /** Any batch by id, generated on its own: what lets executors build batches where they run. */
  readonly randomAccess: RandomAccess = {
    batchCount: (options: BatchOptions) =>
      Math.ceil(this.spec.rows / resolveBatchOptions(options).batchRows),
    readBatch: async (schema: Schema, id: number, options: BatchOptions) => {
      const { batchRows } = resolveBatchOptions(options);
      const start = id * batchRows;
      if (!Number.isSafeInteger(id) || id < 0 || start >= this.spec.rows) {
        throw new InvalidOptionError(
          `batch ${id} is not in ${this.description} (${this.randomAccess.batchCount(options)} batches of ${batchRows} rows)`,
        );
      }
      const [batch] = this.#build(
        schema,
        batchRows,
        start,
        Math.min(this.spec.rows, start + batchRows),
        id,
      );
      return batch!;
    },
  };

  /** Batches of rows `start .. end - 1`, numbered from `firstId`. */
  *#build(
    schema: Schema,
    batchRows: number,
    start: number,
    end: number,
    firstId = 0,
  ): Generator<RawBatch> {
    const { spec } = this;
    const columns = this.#columnIndexes(schema);
    const classNames = Array.from({ length: spec.classes }, (_, c) => String(c));
    const builder = new BatchBuilder(schema, batchRows, firstId);
    const { row } = builder;
    const chunkRows = Math.max(1, Math.floor(kGenerateValues / spec.features));
    for (let from = start; from < end; from += chunkRows) {
      const count = Math.min(chunkRows, end - from);
      const { features, labels } = generateRows(spec, from, count);
      for (let r = 0; r < count; r++) {
        const base = r * spec.features;
        for (let i = 0; i < columns.length; i++) row.numeric[i] = features[base + columns[i]!]!;
        row.label = spec.task === 'regression' ? labels[r]! : classNames[labels[r]!]!;
        const done = builder.commit(from + r);
        if (done !== undefined) yield done;
      }
    }
    const last = builder.finish();
    if (last !== undefined) yield last;
  }

  #checkTask(task: string | undefined): void {
    if (task !== undefined && task !== this.spec.task) {
      throw new InvalidOptionError(
        `task '${task}' contradicts ${this.description}, a ${this.spec.task} dataset ` +
          `(use classes=0 or task=regression in the spec for regression)`,
      );
    }
  }

  /** Feature index of each schema numeric column. */
  #columnIndexes(schema: Schema): number[] {
    if (schema.label !== kSyntheticLabel) {
      throw new LabelNotFoundError(`label column '${schema.label}' is not in ${this.description}`);
    }
    this.#checkTask(schema.task);
    if (schema.categorical.length > 0) {
      throw new InvalidOptionError(
        `schema has categorical columns (${schema.categorical.join(', ')}) but ${this.description} has none`,
      );
    }
    return schema.numeric.map((name) => {
      const match = /^f(0|[1-9]\d*)$/.exec(name);
      const index = match === null ? -1 : Number(match[1]);
      if (index < 0 || index >= this.spec.features) {
        throw new InvalidOptionError(
          `schema column '${name}' is not in ${this.description}; columns are f0..f${this.spec.features - 1}`,
        );
      }
      return index;
    });
  }
}
