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
import { DataEmptyError, DataParseError } from '../errors.js';
import type { RowScratch } from './batch-builder.js';
import { resolveBatchOptions, resolveInferOptions } from './data-options.js';
import { categoryFromJson, describeJson, labelFromJson, numericFromJson } from './json-fields.js';
import { LocalFile, type DataFile, type FileVersion } from './data-file.js';
import { recordsToBatches, recordsToSpans, spanBatch, type RecordDecoder } from './row-batches.js';
import { buildSchema, ColumnStats } from './schema-inference.js';
import { readTextLines, type TextLine, type TextRange } from './text-lines.js';
import type { BatchOptions, BatchSpan, DataSource, InferOptions, RawBatch, Schema, SpanAccess } from './types.js';

/** Options of {@link JsonlSource}. */
export interface JsonlSourceOptions {
  /** What the user named; defaults to `jsonl:<path>`. */
  readonly description?: string;
  /** The label column's default, when the dataset has a conventional one. */
  readonly defaultLabel?: string;
  /** The user named the file by absolute path or URL (likely shared storage): see `SpanAccess.shared`. */
  readonly shared?: boolean;
}

type JsonObject = Record<string, unknown>;

/** Parses one line into an object, or throws the bad-row error. */
function parseObject({ text, line }: TextLine, path: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DataParseError(`${path}:${line}: malformed JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DataParseError(`${path}:${line}: expected a JSON object, got ${describeJson(value)}`);
  }
  return value as JsonObject;
}

/** The value of an own key; inherited names such as `constructor` are absent keys. */
function own(object: JsonObject, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** Non-blank lines: the records of a JSON Lines file (or of a byte range of it). */
async function* records(file: DataFile, range?: TextRange, offsets = false, expect?: FileVersion): AsyncGenerator<TextLine> {
  for await (const line of readTextLines(file, range, offsets, expect)) if (line.text.trim().length > 0) yield line;
}

/** Decodes a line into a row; throws on a bad row. */
function recordDecoder(schema: Schema, path: string): RecordDecoder<TextLine> {
  const { numeric, categorical, label, task } = schema;
  return (record: TextLine, row: RowScratch): void => {
    const object = parseObject(record, path);
    const { line } = record;
    for (let i = 0; i < numeric.length; i++) {
      row.numeric[i] = numericFromJson(own(object, numeric[i]!), path, line, numeric[i]!);
    }
    for (let i = 0; i < categorical.length; i++) {
      const name = categorical[i]!;
      row.categorical[i] = categoryFromJson(own(object, name), path, line, name);
    }
    row.label = labelFromJson(own(object, label), task, path, line, label);
  };
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
   *   to read it (e.g. an `HttpFile`).
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
      spans: (schema, batchOptions) => this.#spans(schema, batchOptions),
      readSpan: (schema, span, batchOptions) => this.#readSpan(schema, span, batchOptions),
    };
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
    const columns = new Map<string, ColumnStats>();
    let rows = 0;
    let firstError: unknown;
    for await (const record of records(this.#file)) {
      rows++;
      try {
        const object = parseObject(record, this.path);
        for (const [key, value] of Object.entries(object)) {
          let stats = columns.get(key);
          if (stats === undefined) columns.set(key, (stats = new ColumnStats()));
          stats.observeJson(value);
        }
      } catch (err) {
        firstError ??= err;
      }
      if (rows >= filled.sampleRows) break;
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
   * Streams the file as raw batches; keys not in the schema are ignored.
   *
   * @throws (by rejecting) InvalidOptionError for bad options; DataNotFoundError; DataEmptyError;
   *   DataParseError (bad row) for a line that is not a JSON object; DataValueError (bad row) for a
   *   value not allowed in its column or a missing label.
   */
  async *batches(schema: Schema, options: BatchOptions): AsyncGenerator<RawBatch> {
    const filled = resolveBatchOptions(options);
    yield* recordsToBatches(records(this.#file), recordDecoder(schema, this.path), schema, filled, this.path);
  }

  /** The byte ranges of the batches `batches()` yields (see `SpanAccess.spans`). */
  async *#spans(schema: Schema, options: BatchOptions): AsyncGenerator<BatchSpan> {
    const filled = resolveBatchOptions(options);
    const path = this.path;
    const version = await this.#file.version();
    // The pass reads the version it noted: a file that changes meanwhile fails here, not on a worker.
    yield* recordsToSpans(records(this.#file, undefined, true, version), recordDecoder(schema, path), schema, filled, path, version);
  }

  /** Reads one batch by its byte range, as a worker does. */
  async #readSpan(schema: Schema, span: BatchSpan, options: BatchOptions): Promise<RawBatch> {
    const filled = resolveBatchOptions(options);
    const path = this.path;
    const expect = span.tag === undefined ? { size: span.size } : { size: span.size, tag: span.tag };
    const batches = recordsToBatches(records(this.#file, span, false, expect), recordDecoder(schema, path), schema, filled, path, { id: span.id, row: span.row });
    return spanBatch(batches, span, path);
  }
}
