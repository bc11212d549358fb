/**
 * A CSV file as a data source: a header row, then one record per line (quoted fields may hold
 * commas, quotes and line breaks). Local, at a URL, or gzip-compressed (`.csv.gz`).
 *
 * Reading is two passes over bytes, so that the expensive one can run anywhere:
 * 1. a **scan** (`record-scan.ts`) cuts the file into byte ranges of `batchRows` whole records,
 *    at memory speed, parsing nothing;
 * 2. each range is **parsed** on its own (`csv-chunk.ts`), by whichever thread or machine gets it:
 *    `readSpan` reads a range by offset, so a driver hands out ranges and its workers parse them in
 *    parallel. A gzip file cannot be entered mid-stream: its ranges carry their bytes.
 *
 * Values follow `field-values.ts` and the missing-value tokens (`na-values.ts`): the empty field,
 * pandas' tokens (`NA`, `nan`, `NULL`, ...) or the schema's own list are missing — NaN in a
 * numeric column, code -1 in a categorical one, a bad row in the label column. Blank lines are
 * ignored and do not count as rows. Line numbers in messages are 1-based file lines (the header
 * is line 1) of the line where the record starts.
 *
 * A file that is not text (a workbook, an archive, compressed data without a .gz name) is refused
 * at the first read with what it looks like.
 *
 * @module
 */
import type { Readable } from 'node:stream';
import { DataEmptyError, DataParseError } from '../errors.js';
import { describeBinary } from './byte-sniff.js';
import { csvLayout, parseCsvChunk, parseQuotedRecord, type CsvLayout } from './csv-chunk.js';
import { observeCsvChunk } from './csv-sample.js';
import { resolveBatchOptions, resolveInferOptions } from './data-options.js';
import { LocalFile, type DataFile, type FileVersion } from './data-file.js';
import { naValuesOf } from './na-values.js';
import { lineBreakOf, scanRecords } from './record-scan.js';
import { chunkSpans } from './chunk-spans.js';
import { buildSchema, ColumnStats } from './schema-inference.js';
import type {
  BatchOptions,
  BatchSpan,
  DataSource,
  InferOptions,
  RawBatch,
  Schema,
  SpanAccess,
} from './types.js';

/** Options of {@link CsvSource}. */
export interface CsvSourceOptions {
  /** What the user named; defaults to `csv:<path>`. */
  readonly description?: string;
  /** The label column's default, when the dataset has a conventional one. */
  readonly defaultLabel?: string;
  /** The user named the file by absolute path or URL (likely shared storage): see `SpanAccess.shared`. */
  readonly shared?: boolean;
}

/** A file's header and where its data starts. */
interface CsvHeader {
  readonly names: string[];
  /** The header record's line. */
  readonly line: number;
  /** Byte offset and line where the data records start. */
  readonly dataStart: number;
  readonly dataLine: number;
  /** The line-break byte. */
  readonly term: number;
}

/**
 * Checks a header row and returns its column names. An empty name becomes `Unnamed: <index>`,
 * as pandas names it (R's `write.csv` leaves the row-name column's name empty).
 */
function headerNames(fields: string[], path: string, line: number): string[] {
  const seen = new Set<string>();
  fields = fields.map((name, i) => (name.trim() === '' ? `Unnamed: ${i}` : name));
  for (const name of fields) {
    if (seen.has(name))
      throw new DataParseError(
        `${path}:${line}: column name '${name}' appears twice in the header`,
      );
    seen.add(name);
  }
  return fields;
}

/** The stream's buffers, after checking that the first ones look like text. */
async function* sniffed(stream: Readable, path: string): AsyncGenerator<Uint8Array> {
  let checked = false;
  for await (const chunk of stream as AsyncIterable<Uint8Array>) {
    if (!checked) {
      checked = true;
      const what = describeBinary(chunk.subarray(0, 4096));
      if (what !== undefined)
        throw new DataParseError(`${path} is not a CSV file: it looks like ${what}`);
    }
    yield chunk;
  }
}

/**
 * Streams a CSV file.
 *
 * @example
 * const source = new CsvSource('/data/sales.csv');
 * const schema = await source.inferSchema({ label: 'churned' });
 * for await (const batch of source.batches(schema, { batchRows: 8192, onBadRow: 'error' })) {}
 */
export class CsvSource implements DataSource {
  readonly description: string;
  readonly defaultLabel?: string;
  /** The CSV file, as used in messages: its path or URL. */
  readonly path: string;
  readonly byteRanges: SpanAccess;
  readonly #file: DataFile;
  /** The header, read once per source by a worker reading byte ranges. */
  #header: Promise<CsvHeader> | undefined;

  /**
   * @param file - The CSV file: a path (resolved against the process's working directory), or
   *   where to read it (e.g. an `HttpFile`, a `GzipFile`).
   * @param options - Description and default label.
   */
  constructor(file: string | DataFile, options: CsvSourceOptions = {}) {
    this.#file = typeof file === 'string' ? new LocalFile(file) : file;
    this.path = this.#file.name;
    this.description = options.description ?? `csv:${this.#file.location}`;
    if (options.defaultLabel !== undefined) this.defaultLabel = options.defaultLabel;
    this.byteRanges = {
      reference: `csv:${this.#file.location}`,
      shared: options.shared === true,
      ranged: this.#file.ranged,
      local: this.#file.local,
      spans: (schema, batchOptions, withBytes) =>
        this.#spans(schema, batchOptions, withBytes === true),
      readSpan: (schema, span, batchOptions) => this.#readSpan(schema, span, batchOptions),
    };
  }

  /** The file's path or URL with its size and modification time or ETag. */
  async identity(): Promise<string> {
    const { size, modified, tag } = await this.#file.version();
    return JSON.stringify([this.byteRanges.reference, size, modified ?? null, tag ?? null]);
  }

  /**
   * Infers the schema from the header and up to `sampleRows` leading data rows. Rows with the
   * wrong number of fields are left out of the statistics: whether they are errors is decided by
   * the bad-row policy when batches are read.
   *
   * @throws DataNotFoundError, DataEmptyError (empty file or header only), DataParseError
   *   (malformed CSV, duplicate column names, not a text file), LabelNotFoundError listing the
   *   columns, InvalidOptionError for a forced column that is not in the file.
   */
  async inferSchema(options: InferOptions): Promise<Schema> {
    const filled = resolveInferOptions(options);
    const na = naValuesOf(filled.naValues);
    const header = await this.#readHeader();
    const stats = header.names.map(() => new ColumnStats());
    let rows = 0;
    const stream = await this.#file.open(
      this.#file.ranged ? { start: header.dataStart } : undefined,
    );
    try {
      const source = this.#file.ranged
        ? (stream as AsyncIterable<Uint8Array>)
        : skipBytes(stream, header.dataStart);
      const scan = scanRecords(source, {
        quotes: true,
        records: filled.sampleRows,
        keepBytes: true,
        start: header.dataStart,
        line: header.dataLine,
        path: this.path,
        maxChunks: 1,
        term: header.term,
      });
      for await (const chunk of scan)
        rows += observeCsvChunk(chunk.bytes!, header.term, stats, na, this.path, chunk.line);
    } catch (err) {
      throw this.#file.readError(err);
    } finally {
      stream.destroy();
    }
    return buildSchema(
      { names: header.names, stats, rows, typedNumbers: false },
      filled,
      this.path,
    );
  }

  /**
   * Streams the file as raw batches of `batchRows` records each (bad records skipped under
   * `onBadRow: 'skip'` leave their batch shorter). Columns are matched to the schema by header
   * name; extra columns are ignored.
   *
   * @throws (by rejecting) InvalidOptionError for bad options; DataNotFoundError; DataEmptyError;
   *   LabelNotFoundError; DataParseError for a schema column missing from the header, malformed
   *   CSV or (bad row) a wrong field count; DataValueError (bad row) for a value not allowed in
   *   its column or a missing label.
   */
  async *batches(schema: Schema, options: BatchOptions): AsyncGenerator<RawBatch> {
    const filled = resolveBatchOptions(options);
    const header = await this.#readHeader();
    const layout = this.#layout(header, schema);
    let skipped = 0;
    let any = false;
    for await (const span of this.#scan(header, filled.batchRows, true)) {
      const batch = parseCsvChunk(span.bytes!, layout, span, span.records, filled.onBadRow);
      skipped += batch.skippedRows;
      any ||= batch.rowCount > 0;
      yield batch;
    }
    if (!any) throw emptyError(this.path, skipped);
  }

  /** Reads the header (and checks the file looks like text). */
  #readHeader(expect?: FileVersion): Promise<CsvHeader> {
    const read = async (): Promise<CsvHeader> => {
      const stream = await this.#file.open(undefined, expect);
      try {
        const scan = scanRecords(sniffed(stream, this.path), {
          quotes: true,
          records: 1,
          keepBytes: true,
          path: this.path,
          maxChunks: 1,
        });
        for await (const chunk of scan) {
          const bytes = chunk.bytes!;
          const term = lineBreakOf(bytes);
          let blank = 0;
          while (blank < bytes.length && (bytes[blank] === term || bytes[blank] === 13)) blank++;
          const line = 1 + countLines(bytes.subarray(0, blank), term);
          const names = headerNames(parseQuotedRecord(bytes, this.path, line), this.path, line);
          return { names, line, dataStart: chunk.end, dataLine: 1 + countLines(bytes, term), term };
        }
      } catch (err) {
        throw this.#file.readError(err);
      } finally {
        stream.destroy();
      }
      throw new DataEmptyError(`${this.path} is empty`);
    };
    if (expect === undefined) return read();
    // Workers read the header once per source; a failed read is not kept, the next batch tries again.
    this.#header ??= read().catch((err: unknown) => {
      this.#header = undefined;
      throw err;
    });
    return this.#header;
  }

  #layout(header: CsvHeader, schema: Schema): CsvLayout {
    return csvLayout(
      header.names,
      schema,
      naValuesOf(schema.naValues),
      this.path,
      header.line,
      header.term,
    );
  }

  /** Chunks of whole records after the header. */
  async *#scan(header: CsvHeader, records: number, keepBytes: boolean, expect?: FileVersion) {
    const ranged = this.#file.ranged;
    const stream = await this.#file.open(ranged ? { start: header.dataStart } : undefined, expect);
    try {
      const source = ranged
        ? (stream as AsyncIterable<Uint8Array>)
        : skipBytes(stream, header.dataStart);
      yield* scanRecords(source, {
        quotes: true,
        records,
        keepBytes,
        start: header.dataStart,
        line: header.dataLine,
        path: this.path,
        term: header.term,
      });
    } catch (err) {
      throw this.#file.readError(err);
    } finally {
      stream.destroy();
    }
  }

  /** The byte ranges of the batches `batches()` yields (see `SpanAccess.spans`). */
  async *#spans(
    schema: Schema,
    options: BatchOptions,
    withBytes: boolean,
  ): AsyncGenerator<BatchSpan> {
    const filled = resolveBatchOptions(options);
    const version = await this.#file.version();
    const header = await this.#readHeader();
    // Checks the schema against the header here, on the driver, before any worker reads a range.
    this.#layout(header, schema);
    // The scan reads the version it noted: a file that changes meanwhile fails here, not on a worker.
    yield* chunkSpans(
      this.#scan(header, filled.batchRows, withBytes || !this.#file.ranged, version),
      version,
      this.path,
    );
  }

  /** Reads one batch by its byte range (or from the bytes it carries), as a worker does. */
  async #readSpan(schema: Schema, span: BatchSpan, options: BatchOptions): Promise<RawBatch> {
    const filled = resolveBatchOptions(options);
    const expect =
      span.tag === undefined ? { size: span.size } : { size: span.size, tag: span.tag };
    let header: CsvHeader;
    let bytes: Uint8Array;
    if (span.bytes !== undefined) {
      // The bytes came with the reference; only the header's column names are needed.
      header = await this.#readHeader(expect);
      bytes = span.bytes;
    } else {
      [header, bytes] = await Promise.all([
        this.#readHeader(expect),
        this.#file.read({ start: span.start, end: span.end }, expect),
      ]);
    }
    const batch = parseCsvChunk(
      bytes,
      this.#layout(header, schema),
      span,
      span.rows,
      filled.onBadRow,
    );
    checkSpanRows(batch, span, this.path);
    return batch;
  }
}

/** Line breaks in `bytes`. */
function countLines(bytes: Uint8Array, term: number): number {
  let count = 0;
  for (let i = bytes.indexOf(term); i !== -1; i = bytes.indexOf(term, i + 1)) count++;
  return count;
}

/** A stream without its first `count` bytes (a compressed file's header, read already). */
async function* skipBytes(
  stream: AsyncIterable<Uint8Array>,
  count: number,
): AsyncGenerator<Uint8Array> {
  let left = count;
  for await (const chunk of stream) {
    if (left >= chunk.length) {
      left -= chunk.length;
      continue;
    }
    yield left > 0 ? chunk.subarray(left) : chunk;
    left = 0;
  }
}

/** The error for a file with no usable row. */
export function emptyError(path: string, skipped: number): DataEmptyError {
  return skipped > 0
    ? new DataEmptyError(`every one of the ${skipped} data rows of ${path} was bad and skipped`)
    : new DataEmptyError(`${path} has no data rows`);
}

/**
 * Checks a range's batch against what the driver's scan found there: a worker whose file differs
 * from the driver's fails instead of training on other rows.
 */
export function checkSpanRows(batch: RawBatch, span: BatchSpan, where: string): void {
  if (batch.rowCount + batch.skippedRows !== span.rows) {
    throw new DataParseError(
      `${where}:${span.line}: batch ${span.id} (bytes ${span.start}-${span.end}) does not hold the ${span.rows} records the driver found there: ` +
        "the file differs from the driver's; give every machine the same file, or ship the rows (mlscale train --ship-rows)",
    );
  }
}
