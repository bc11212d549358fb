/**
 * The data contracts: a dataset's schema and the raw batches that sources stream.
 *
 * A raw batch is made of typed arrays so that it crosses a thread boundary by transfer, not by
 * copy. Categorical values are dictionary-encoded per batch (codes + a small dictionary of the
 * distinct strings in that batch), because strings cannot be transferred.
 *
 * @module
 */

/** What the model learns to predict. */
export type Task = 'classification' | 'regression';

/** How a feature column is treated. */
export type ColumnKind = 'numeric' | 'categorical';

/** One feature column of the dataset. */
export interface ColumnSchema {
  /** Column name, as in the file's header (CSV) or key (JSON Lines). */
  readonly name: string;
  readonly kind: ColumnKind;
}

/** The inferred (or given) shape of a dataset. */
export interface Schema {
  /** Feature columns in file order, label excluded. */
  readonly columns: readonly ColumnSchema[];
  /** Names of numeric feature columns, in file order: the order of `RawBatch.numeric`'s columns. */
  readonly numeric: readonly string[];
  /** Names of categorical feature columns, in file order: the order of `RawBatch.catCodes`' columns. */
  readonly categorical: readonly string[];
  /** Name of the label column. */
  readonly label: string;
  readonly task: Task;
}

/** Labels of a raw batch: numeric targets (regression) or dictionary-encoded classes. */
export type RawLabels =
  | { readonly kind: 'numeric'; readonly values: Float32Array }
  | {
      readonly kind: 'categorical';
      /** rowCount codes into `dict`. */
      readonly codes: Int32Array;
      /** Distinct label strings of this batch, in order of first appearance. */
      readonly dict: string[];
    };

/**
 * A batch as a source yields it: raw values, before any preprocessing.
 * Row-major typed arrays; `NaN` marks a missing numeric value, code -1 a missing categorical one.
 */
export interface RawBatch {
  /** Batch id: 0, 1, 2, ... in data order. Results are aggregated in this order. */
  readonly id: number;
  readonly rowCount: number;
  /** Dataset row index of each row (0-based, counting skipped bad rows), for the held-out split. */
  readonly rowIndex: Float64Array;
  /** rowCount × schema.numeric.length values, row-major; NaN = missing. */
  readonly numeric: Float32Array;
  /** rowCount × schema.categorical.length codes into `catDict`, row-major; -1 = missing. */
  readonly catCodes: Int32Array;
  /** Distinct categorical strings of this batch (all categorical columns share one dictionary). */
  readonly catDict: string[];
  readonly labels: RawLabels;
  /** Rows of this batch's span that were skipped as bad (only with `onBadRow: 'skip'`). */
  readonly skippedRows: number;
}

/** What to do with a row that cannot be parsed or has an invalid value. */
export type BadRowPolicy = 'error' | 'skip';

/** Options for streaming batches from a source. */
export interface BatchOptions {
  /** Rows per batch (the last batch may be shorter). */
  readonly batchRows: number;
  readonly onBadRow: BadRowPolicy;
}

/** Options for schema inference. */
export interface InferOptions {
  /** Label column name. */
  readonly label: string;
  /** Forces the task; otherwise inferred from the label column. */
  readonly task?: Task;
  /** How many leading rows to look at (default 10,000). */
  readonly sampleRows?: number;
}

/**
 * A reference to one batch: enough for any thread or machine that can open `source` to build the
 * batch itself, so a driver hands out references instead of rows.
 */
export interface BatchRef {
  /** The source's description, which `openSource` reopens (for files: the absolute path). */
  readonly source: string;
  readonly id: number;
  readonly options: BatchOptions;
  /** Where the batch lies in its file, for sources read by byte range (CSV, JSON Lines). */
  readonly span?: BatchSpan;
}

/**
 * One batch of a file as a byte range: what a worker that sees the same file needs to read and
 * parse that batch alone, bitwise the batch a full read yields.
 *
 * The range runs from the batch's first record (for batch 0, the first data record) up to the
 * next batch's first good record, so the bad rows skipped between two batches fall in the
 * earlier one, as in a full read.
 */
export interface BatchSpan {
  readonly id: number;
  /** Byte offset of the range's first record. */
  readonly start: number;
  /** Byte offset just past the range (the next batch's first record, or the file's size). */
  readonly end: number;
  /** 1-based file line of the range's first record, for messages. */
  readonly line: number;
  /** Dataset row index of the range's first record (bad rows count), for the held-out split. */
  readonly row: number;
  /** Good rows the batch holds: a worker that parses another count has another file. */
  readonly rows: number;
  /** The file's size in bytes when the driver read it. */
  readonly size: number;
  /** For a file at a URL: its ETag, else its Last-Modified date, when the driver read it. */
  readonly tag?: string;
}

/** Reading a file's batches by byte range (CSV, JSON Lines). */
export interface SpanAccess {
  /** What a worker passes to `openSource` to reopen the file: its kind and absolute path or URL. */
  readonly reference: string;
  /** True when the user named the file by absolute path or URL, so it is likely on shared storage. */
  readonly shared: boolean;
  /**
   * One pass over the file that finds the batches' byte ranges, parsing every record as
   * `batches()` does (same errors, same bad-row policy) but building no batch.
   */
  spans(schema: Schema, options: BatchOptions): AsyncIterable<BatchSpan>;
  /** Reads and parses one range: the same batch `batches()` yields with that id. */
  readSpan(schema: Schema, span: BatchSpan, options: BatchOptions): Promise<RawBatch>;
}

/** Reading any batch by id without reading the ones before it (synthetic data, for one). */
export interface RandomAccess {
  /** How many batches the source holds at this batch size. */
  batchCount(options: BatchOptions): number;
  /** Builds batch `id`: the same batch that `batches()` yields with that id. */
  readBatch(schema: Schema, id: number, options: BatchOptions): Promise<RawBatch>;
}

/** A dataset that can be read any number of times, streaming, in a fixed row order. */
export interface DataSource {
  /** Present when batches can be built by id anywhere; the pipeline then sends references. */
  readonly randomAccess?: RandomAccess;
  /** Present for files whose batches can be read by byte range (CSV, JSON Lines). */
  readonly byteRanges?: SpanAccess;
  /** What the user named, e.g. `csv:/data/sales.csv`, `synthetic:rows=1000,...`, `sample:digits`. */
  readonly description: string;
  /** The label column's default, if the source has one (synthetic and sample sources do). */
  readonly defaultLabel?: string;
  /** Infers the schema from the first rows. Rejects with a coded error on bad input. */
  inferSchema(options: InferOptions): Promise<Schema>;
  /** Streams the dataset as raw batches in row order. Memory does not grow with the row count. */
  batches(schema: Schema, options: BatchOptions): AsyncIterable<RawBatch>;
}
