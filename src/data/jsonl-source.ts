/**
 * A JSON Lines file as a data source: one JSON object per line, streamed.
 *
 * - **Columns** are the union of the keys of the sampled objects (the first `sampleRows`
 *   non-blank lines), in order of first appearance. Keys first seen after the sample are ignored.
 * - **Values**: null or an absent key is missing. Strings follow the text rules of
 *   `field-values.ts` (so `""` and `"NA"` are missing too, and a numeric column accepts `"2.5"`);
 *   a column is numeric when all its sampled values are numbers or number-like strings and at
 *   least one is a JSON number (see `schema-inference.ts`). Booleans are categories
 *   (`'true'`/`'false'`); nested objects and arrays are bad values.
 * - **Lines**: blank lines are ignored and do not count as rows; a line that is not valid JSON, or
 *   not an object, is a bad row (`DataParseError` naming file:line).
 *
 * Existence of the file is checked at first read, as for CSV.
 *
 * @module
 */
import type { Readable } from 'node:stream';
import { DataEmptyError, DataParseError } from '../errors.js';
import { describeBinary } from './byte-sniff.js';
import { checkSpanRows, emptyError } from './csv-source.js';
import { resolveBatchOptions, resolveInferOptions } from './data-options.js';
import { LocalFile, type DataFile, type FileVersion } from './data-file.js';
import { jsonlLines, parseJsonlChunk, parseJsonObject } from './jsonl-chunk.js';
import { naValuesOf } from './na-values.js';
import { scanRecords } from './record-scan.js';
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

/** Options of {@link JsonlSource}. */
export interface JsonlSourceOptions {
  /** What the user named; defaults to `jsonl:<path>`. */
  readonly description?: string;
  /** The label column's default, when the dataset has a conventional one. */
  readonly defaultLabel?: string;
  /** The user named the file by absolute path or URL (likely shared storage): see `SpanAccess.shared`. */
  readonly shared?: boolean;
}

/** The stream's buffers, after checking that the first ones look like text. */
async function* sniffed(stream: Readable, path: string): AsyncGenerator<Uint8Array> {
  let checked = false;
  for await (const chunk of stream as AsyncIterable<Uint8Array>) {
    if (!checked) {
      checked = true;
      const what = describeBinary(chunk.subarray(0, 4096));
      if (what !== undefined)
        throw new DataParseError(`${path} is not a JSON Lines file: it looks like ${what}`);
    }
    yield chunk;
  }
}

/**
 * Streams a JSON Lines file.
 *
 * @example
 * const source = new JsonlSource('/data/events.jsonl');
 * const schema = await source.inferSchema({ label: 'clicked' });
 */
export class JsonlSource implements DataSource {
  readonly description: string;
  readonly defaultLabel?: string;
  /** The JSON Lines file, as used in messages: its path or URL. */
  readonly path: string;
  readonly byteRanges: SpanAccess;
  readonly #file: DataFile;

  /**
   * @param file - The file: a path (resolved against the process's working directory), or where
   *   to read it (e.g. an `HttpFile`, a `GzipFile`).
   * @param options - Description and default label.
   */
  constructor(file: string | DataFile, options: JsonlSourceOptions = {}) {
    this.#file = typeof file === 'string' ? new LocalFile(file) : file;
    this.path = this.#file.name;
    this.description = options.description ?? `jsonl:${this.#file.location}`;
    if (options.defaultLabel !== undefined) this.defaultLabel = options.defaultLabel;
    this.byteRanges = {
      reference: `jsonl:${this.#file.location}`,
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
   * Infers the schema from up to `sampleRows` leading non-blank lines. Lines that are not JSON
   * objects are left out of the statistics (the bad-row policy decides about them when batches
   * are read), unless no line of the sample is an object: then the first such error is thrown.
   *
   * @throws DataNotFoundError, DataEmptyError, DataParseError, LabelNotFoundError (lists columns).
   */
  async inferSchema(options: InferOptions): Promise<Schema> {
    const filled = resolveInferOptions(options);
    const na = naValuesOf(filled.naValues);
    const columns = new Map<string, ColumnStats>();
    let rows = 0;
    let firstError: unknown;
    for await (const chunk of this.#scan(filled.sampleRows, true, undefined, 1)) {
      for (const record of jsonlLines(chunk.bytes!, chunk.line, true)) {
        rows++;
        try {
          const object = parseJsonObject(record.text, this.path, record.line);
          for (const [key, value] of Object.entries(object)) {
            let stats = columns.get(key);
            if (stats === undefined) columns.set(key, (stats = new ColumnStats()));
            stats.observeJson(value, na);
          }
        } catch (err) {
          firstError ??= err;
        }
      }
    }
    if (rows === 0) throw new DataEmptyError(`${this.path} has no data rows`);
    if (columns.size === 0 && firstError !== undefined) throw firstError;
    const sample = {
      names: [...columns.keys()],
      stats: [...columns.values()],
      rows,
      typedNumbers: true,
    };
    return buildSchema(sample, filled, this.path);
  }

  /**
   * Streams the file as raw batches of `batchRows` lines each (bad lines skipped under
   * `onBadRow: 'skip'` leave their batch shorter); keys not in the schema are ignored.
   *
   * @throws (by rejecting) InvalidOptionError for bad options; DataNotFoundError; DataEmptyError;
   *   DataParseError (bad row) for a line that is not a JSON object; DataValueError (bad row) for a
   *   value not allowed in its column or a missing label.
   */
  async *batches(schema: Schema, options: BatchOptions): AsyncGenerator<RawBatch> {
    const filled = resolveBatchOptions(options);
    const na = naValuesOf(schema.naValues);
    let skipped = 0;
    let any = false;
    for await (const chunk of this.#scan(filled.batchRows, true)) {
      const batch = parseJsonlChunk(
        chunk.bytes!,
        schema,
        na,
        this.path,
        chunk,
        chunk.records,
        filled.onBadRow,
      );
      skipped += batch.skippedRows;
      any ||= batch.rowCount > 0;
      yield batch;
    }
    if (!any) throw emptyError(this.path, skipped);
  }

  /** Chunks of whole lines, the first buffer checked to be text. */
  async *#scan(records: number, keepBytes: boolean, expect?: FileVersion, maxChunks?: number) {
    const stream = await this.#file.open(undefined, expect);
    try {
      yield* scanRecords(sniffed(stream, this.path), {
        quotes: false,
        records,
        keepBytes,
        path: this.path,
        ...(maxChunks === undefined ? {} : { maxChunks }),
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
    yield* chunkSpans(
      this.#scan(filled.batchRows, withBytes || !this.#file.ranged, version),
      version,
      this.path,
    );
  }

  /** Reads one batch by its byte range (or from the bytes it carries), as a worker does. */
  async #readSpan(schema: Schema, span: BatchSpan, options: BatchOptions): Promise<RawBatch> {
    const filled = resolveBatchOptions(options);
    const expect =
      span.tag === undefined ? { size: span.size } : { size: span.size, tag: span.tag };
    const bytes =
      span.bytes ?? (await this.#file.read({ start: span.start, end: span.end }, expect));
    const batch = parseJsonlChunk(
      bytes,
      schema,
      naValuesOf(schema.naValues),
      this.path,
      span,
      span.rows,
      filled.onBadRow,
    );
    checkSpanRows(batch, span, this.path);
    return batch;
  }
}
