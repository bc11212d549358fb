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
  /**
   * Text values read as missing, besides the empty field (CSV fields and JSON strings); pandas'
   * list when absent (`na-values.ts`).
   */
  readonly naValues?: readonly string[];
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
  /** Text values read as missing, besides the empty field (default: pandas' list). */
  readonly naValues?: readonly string[];
  /** Columns to treat as categorical whatever their values. */
  readonly categorical?: readonly string[];
  /** Columns to treat as numeric whatever their values (non-numbers are then bad values). */
  readonly numeric?: readonly string[];
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
 * One batch of a file as a byte range of whole records: what a worker that sees the same file
 * needs to read and parse that batch alone, bitwise the batch a full read yields.
 *
 * Batches of a file are cut by records (`batchRows` records each, bad ones included), so the cut
 * is found by a scan of the bytes that parses nothing; bad records skipped under
 * `onBadRow: 'skip'` leave their batch shorter.
 */
export interface BatchSpan {
  readonly id: number;
  /** Byte offset of the range's first byte (just after the previous range). */
  readonly start: number;
  /** Byte offset just past the range (the next range's start, or the file's size). */
  readonly end: number;
  /** 1-based file line at `start`, for messages. */
  readonly line: number;
  /** Dataset row index of the range's first record (bad rows count), for the held-out split. */
  readonly row: number;
  /** Records in the range, bad ones included: a worker that parses another count has another file. */
  readonly rows: number;
  /** The file's size in bytes when the driver read it. */
  readonly size: number;
  /** For a file at a URL: its ETag, else its Last-Modified date, when the driver read it. */
  readonly tag?: string;
  /**
   * The range's bytes, for a file that cannot be read again by byte range (a compressed one):
   * they travel with the reference instead.
   */
  readonly bytes?: Uint8Array;
}

/** Reading a file's batches by byte range (CSV, JSON Lines). */
export interface SpanAccess {
  /** What a worker passes to `openSource` to reopen the file: its kind and absolute path or URL. */
  readonly reference: string;
  /** True when the user named the file by absolute path or URL, so it is likely on shared storage. */
  readonly shared: boolean;
  /** False when the file cannot be read by byte range (gzip): its spans carry their bytes. */
  readonly ranged: boolean;
  /** True when the file is on this machine's file system (not at a URL). */
  readonly local: boolean;
  /**
   * One pass over the file that finds the batches' byte ranges: a scan of the bytes for record
   * boundaries that parses no record (so bad rows are found by whoever parses the range).
   *
   * @param withBytes - Attach each range's bytes (always done when the file is not `ranged`).
   */
  spans(schema: Schema, options: BatchOptions, withBytes?: boolean): AsyncIterable<BatchSpan>;
  /** Reads (or takes from `span.bytes`) and parses one range: the batch `batches()` yields with that id. */
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
  /**
   * What identifies the data's content now (a file's path, size and modification time or ETag),
   * for the batch cache's key; sources whose description fixes their content (synthetic, sample)
   * have none.
   */
  identity?(): Promise<string>;
  /** Infers the schema from the first rows. Rejects with a coded error on bad input. */
  inferSchema(options: InferOptions): Promise<Schema>;
  /** Streams the dataset as raw batches in row order. Memory does not grow with the row count. */
  batches(schema: Schema, options: BatchOptions): AsyncIterable<RawBatch>;
}
