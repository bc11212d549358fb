/**
 * Writes the rows of one chunk (a byte range of whole records) straight into the typed arrays of
 * its raw batch: the parsers' fast path, with no scratch row to copy and no string made for a
 * value already seen in the chunk.
 *
 * The batch is the one `BatchBuilder` would build from the same rows: arrays of exact length,
 * categorical values and class labels dictionary-encoded in order of first appearance (row by
 * row, categorical columns in schema order, then the label). Dictionary codes are given at
 * `commit`, so a record that turns out bad half-way adds nothing to the dictionaries.
 *
 * @module
 */
import type { RawBatch, RawLabels, Schema } from './types.js';

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

const kUnassigned = -2;

/**
 * Distinct byte strings of a chunk, by content: a value seen before is found by its bytes (an
 * FNV-1a hash, then a byte comparison with its first occurrence), so it is decoded, checked
 * against the missing-value tokens and looked up in the dictionary once per chunk, not per row.
 */
export class ByteValues {
  /** Per entry: decoded value (undefined = missing) and dictionary code once assigned. */
  readonly values: (string | undefined)[] = [];
  readonly codes: number[] = [];
  #starts: number[] = [];
  #lengths: number[] = [];
  #hashes: number[] = [];
  /** Open addressing: entry index + 1 per slot, 0 = empty. */
  #table = new Int32Array(256);

  /**
   * The entry of `buf[start, end)`, or -1 when new (then call {@link add}).
   *
   * @param hash - FNV-1a of the bytes.
   */
  find(buf: Uint8Array, start: number, end: number, hash: number): number {
    const mask = this.#table.length - 1;
    const length = end - start;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const at = this.#table[slot]! - 1;
      if (at < 0) return -1;
      if (this.#hashes[at] !== hash || this.#lengths[at] !== length) continue;
      const other = this.#starts[at]!;
      let same = true;
      for (let i = 0; i < length; i++) {
        if (buf[start + i] !== buf[other + i]) {
          same = false;
          break;
        }
      }
      if (same) return at;
    }
  }

  /** Adds the bytes at `buf[start, end)` (in the same chunk buffer) with their decoded value. */
  add(start: number, end: number, hash: number, value: string | undefined): number {
    const at = this.values.length;
    this.values.push(value);
    this.codes.push(value === undefined ? -1 : kUnassigned);
    this.#starts.push(start);
    this.#lengths.push(end - start);
    this.#hashes.push(hash);
    if (2 * (at + 1) > this.#table.length) this.#grow();
    else this.#place(at);
    return at;
  }

  #place(at: number): void {
    const mask = this.#table.length - 1;
    let slot = this.#hashes[at]! & mask;
    while (this.#table[slot] !== 0) slot = (slot + 1) & mask;
    this.#table[slot] = at + 1;
  }

  #grow(): void {
    this.#table = new Int32Array(this.#table.length * 2);
    for (let at = 0; at < this.values.length; at++) this.#place(at);
  }
}

/** FNV-1a over `buf[start, end)`. */
export function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h;
}

/** The rows of one chunk, written in place. */
export class ChunkWriter {
  /** Capacity × numeric columns; the row being decoded writes at `row * numericWidth`. */
  readonly numeric: Float32Array;
  readonly numericWidth: number;
  /** Good rows committed; also the index of the row being decoded. */
  rowCount = 0;
  skipped = 0;
  readonly #capacity: number;
  readonly #categoricalWidth: number;
  readonly #rowIndex: Float64Array;
  readonly #catCodes: Int32Array;
  readonly #labels: Int32Array | Float32Array;
  readonly #catDict = new Dictionary();
  readonly #labelDict = new Dictionary();
  /** The row's categorical values: an entry of `categories` (>= 0), or -1 with a text below. */
  readonly #pendingEntry: Int32Array;
  readonly #pendingText: (string | undefined)[];
  #pendingLabelEntry = -1;
  #pendingLabel: string | number = NaN;
  /** Distinct categorical values (all columns share the batch's dictionary) and labels, by bytes. */
  readonly categories = new ByteValues();
  readonly labelValues = new ByteValues();

  /**
   * @param schema - The schema batches follow.
   * @param capacity - Records in the chunk: the most rows the batch can have.
   */
  constructor(schema: Schema, capacity: number) {
    this.#capacity = capacity;
    this.numericWidth = schema.numeric.length;
    this.#categoricalWidth = schema.categorical.length;
    this.numeric = new Float32Array(capacity * this.numericWidth);
    this.#rowIndex = new Float64Array(capacity);
    this.#catCodes = new Int32Array(capacity * this.#categoricalWidth);
    this.#labels =
      schema.task === 'regression' ? new Float32Array(capacity) : new Int32Array(capacity);
    this.#pendingEntry = new Int32Array(this.#categoricalWidth).fill(-1);
    this.#pendingText = new Array<string | undefined>(this.#categoricalWidth).fill(undefined);
  }

  /** Sets a categorical value of the row by its entry in {@link categories}. */
  categoryEntry(slot: number, entry: number): void {
    this.#pendingEntry[slot] = entry;
  }

  /** Sets a categorical value of the row by its text (undefined = missing). */
  categoryText(slot: number, value: string | undefined): void {
    this.#pendingEntry[slot] = -1;
    this.#pendingText[slot] = value;
  }

  /** Sets the row's label by its entry in {@link labelValues}. */
  labelEntry(entry: number): void {
    this.#pendingLabelEntry = entry;
  }

  /** Sets the row's label: a class name or a regression target. */
  label(value: string | number): void {
    this.#pendingLabelEntry = -1;
    this.#pendingLabel = value;
  }

  /** Appends the row being decoded, as dataset row `rowIndex`. */
  commit(rowIndex: number): void {
    const r = this.rowCount;
    this.#rowIndex[r] = rowIndex;
    const base = r * this.#categoricalWidth;
    const entries = this.categories;
    for (let c = 0; c < this.#categoricalWidth; c++) {
      const entry = this.#pendingEntry[c]!;
      let code: number;
      if (entry >= 0) {
        code = entries.codes[entry]!;
        if (code === kUnassigned)
          code = entries.codes[entry] = this.#catDict.code(entries.values[entry]!);
      } else {
        const text = this.#pendingText[c];
        code = text === undefined ? -1 : this.#catDict.code(text);
      }
      this.#catCodes[base + c] = code;
    }
    const entry = this.#pendingLabelEntry;
    if (entry >= 0) {
      let code = this.labelValues.codes[entry]!;
      if (code === kUnassigned)
        code = this.labelValues.codes[entry] = this.#labelDict.code(
          this.labelValues.values[entry]!,
        );
      this.#labels[r] = code;
    } else {
      const label = this.#pendingLabel;
      this.#labels[r] = typeof label === 'string' ? this.#labelDict.code(label) : label;
    }
    this.rowCount = r + 1;
  }

  /** Counts a bad record. */
  skip(): void {
    this.skipped++;
  }

  /** The batch: arrays cut to the rows written (copied when shorter, so no capacity stays alive). */
  finish(id: number): RawBatch {
    const n = this.rowCount;
    const exact = n === this.#capacity;
    const labelValues = exact ? this.#labels : this.#labels.slice(0, n);
    const labels: RawLabels =
      labelValues instanceof Float32Array
        ? { kind: 'numeric', values: labelValues }
        : { kind: 'categorical', codes: labelValues, dict: this.#labelDict.values };
    return {
      id,
      rowCount: n,
      rowIndex: exact ? this.#rowIndex : this.#rowIndex.slice(0, n),
      numeric: exact ? this.numeric : this.numeric.slice(0, n * this.numericWidth),
      catCodes: exact ? this.#catCodes : this.#catCodes.slice(0, n * this.#categoricalWidth),
      catDict: this.#catDict.values,
      labels,
      skippedRows: this.skipped,
    };
  }
}
