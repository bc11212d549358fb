/**
 * Accumulates decoded rows into raw batches: preallocated typed arrays of `batchRows` capacity,
 * per-batch dictionaries for categorical values and class labels, batch ids and skipped-row
 * counts. Every source builds its batches here, so they all cut and encode batches alike.
 *
 * Each batch gets freshly allocated arrays (never views into a shared buffer), so a consumer can
 * transfer them to a worker thread without detaching the next batch.
 *
 * @module
 */
import type { RawBatch, RawLabels, Schema } from './types.js';

/** The row being decoded; a source fills it, then calls {@link BatchBuilder.commit}. */
export interface RowScratch {
  /** Values in `schema.numeric` order; NaN = missing. */
  readonly numeric: Float64Array;
  /** Values in `schema.categorical` order; `undefined` = missing. */
  readonly categorical: (string | undefined)[];
  /** Class name (classification) or target (regression). */
  label: string | number;
}

/** Assigns codes to strings in order of first appearance. */
class Dictionary {
  readonly values: string[] = [];
  readonly #codes = new Map<string, number>();

  code(value: string): number {
    let code = this.#codes.get(value);
    if (code === undefined) {
      code = this.values.length;
      this.#codes.set(value, code);
      this.values.push(value);
    }
    return code;
  }
}

/** The arrays of the batch being filled. */
interface OpenBatch {
  readonly rowIndex: Float64Array;
  readonly numeric: Float32Array;
  readonly catCodes: Int32Array;
  readonly catDict: Dictionary;
  /** Class codes (classification) or targets (regression). */
  readonly labels: Int32Array | Float32Array;
  readonly labelDict: Dictionary;
  rowCount: number;
}

/**
 * Cuts a stream of rows into `RawBatch`es of `batchRows` rows (the last may be shorter).
 *
 * Skipped rows are counted in the `skippedRows` of the batch whose span they fall in. A batch's
 * span runs from its first row (row 0 for the first batch) up to the next batch's first row (the
 * end of the data for the last batch). That is why a full batch is only handed out when the next
 * good row arrives or in {@link finish}: bad rows after it still belong to it, and no empty batch
 * is ever made just to carry a count.
 */
export class BatchBuilder {
  /** Scratch space for the next row. */
  readonly row: RowScratch;
  readonly #schema: Schema;
  readonly #batchRows: number;
  readonly #numericWidth: number;
  readonly #categoricalWidth: number;
  #open: OpenBatch | undefined;
  #nextId = 0;
  #skippedInSpan = 0;
  #rowsTotal = 0;
  #skippedTotal = 0;

  /**
   * @param schema - The schema batches follow.
   * @param batchRows - Rows per batch, a positive integer (validated by the caller).
   * @param firstId - Id of the first batch (random-access sources build one batch from the middle).
   */
  constructor(schema: Schema, batchRows: number, firstId = 0) {
    this.#nextId = firstId;
    this.#schema = schema;
    this.#batchRows = batchRows;
    this.#numericWidth = schema.numeric.length;
    this.#categoricalWidth = schema.categorical.length;
    this.row = {
      numeric: new Float64Array(this.#numericWidth),
      categorical: new Array<string | undefined>(this.#categoricalWidth).fill(undefined),
      label: schema.task === 'regression' ? NaN : '',
    };
  }

  /** Good rows committed so far. */
  get rowsTotal(): number {
    return this.#rowsTotal;
  }

  /** Rows skipped so far. */
  get skippedTotal(): number {
    return this.#skippedTotal;
  }

  /**
   * Appends the scratch row.
   *
   * @param rowIndex - The row's dataset index.
   * @returns The previous batch, when it was full and this row starts a new one.
   */
  commit(rowIndex: number): RawBatch | undefined {
    let done: RawBatch | undefined;
    if (this.#open !== undefined && this.#open.rowCount === this.#batchRows) done = this.#seal();
    const open = (this.#open ??= this.#allocate());
    const r = open.rowCount;
    const { numeric, categorical, label } = this.row;
    open.rowIndex[r] = rowIndex;
    open.numeric.set(numeric, r * this.#numericWidth);
    const catBase = r * this.#categoricalWidth;
    for (let c = 0; c < this.#categoricalWidth; c++) {
      const value = categorical[c];
      open.catCodes[catBase + c] = value === undefined ? -1 : open.catDict.code(value);
    }
    open.labels[r] = typeof label === 'string' ? open.labelDict.code(label) : label;
    open.rowCount = r + 1;
    this.#rowsTotal++;
    return done;
  }

  /** Counts a bad row in the current batch's span. */
  skip(): void {
    this.#skippedInSpan++;
    this.#skippedTotal++;
  }

  /**
   * Ends the stream.
   *
   * @returns The last batch, or `undefined` when no good row is pending. Skipped rows with no
   *   good row at all are left to the caller (see {@link skippedTotal}).
   */
  finish(): RawBatch | undefined {
    return this.#open === undefined ? undefined : this.#seal();
  }

  #allocate(): OpenBatch {
    const rows = this.#batchRows;
    return {
      rowIndex: new Float64Array(rows),
      numeric: new Float32Array(rows * this.#numericWidth),
      catCodes: new Int32Array(rows * this.#categoricalWidth),
      catDict: new Dictionary(),
      labels: this.#schema.task === 'regression' ? new Float32Array(rows) : new Int32Array(rows),
      labelDict: new Dictionary(),
      rowCount: 0,
    };
  }

  #seal(): RawBatch {
    const open = this.#open!;
    const n = open.rowCount;
    // A short (last) batch is copied to exact length: `slice` allocates a new buffer, where
    // `subarray` would keep the whole capacity alive behind a view.
    const exact = n === this.#batchRows;
    const labelValues = exact ? open.labels : open.labels.slice(0, n);
    const labels: RawLabels =
      labelValues instanceof Float32Array
        ? { kind: 'numeric', values: labelValues }
        : { kind: 'categorical', codes: labelValues, dict: open.labelDict.values };
    const batch: RawBatch = {
      id: this.#nextId++,
      rowCount: n,
      rowIndex: exact ? open.rowIndex : open.rowIndex.slice(0, n),
      numeric: exact ? open.numeric : open.numeric.slice(0, n * this.#numericWidth),
      catCodes: exact ? open.catCodes : open.catCodes.slice(0, n * this.#categoricalWidth),
      catDict: open.catDict.values,
      labels,
      skippedRows: this.#skippedInSpan,
    };
    this.#open = undefined;
    this.#skippedInSpan = 0;
    return batch;
  }
}
