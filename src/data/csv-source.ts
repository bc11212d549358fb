/**
 * A CSV file as a data source: a header row, then one row per line (quoted fields may hold
 * commas, quotes and line breaks). The file is streamed; memory does not grow with its length.
 *
 * Values follow `field-values.ts`: `''` and `NA` (surrounding whitespace ignored) are missing —
 * NaN in a numeric column, code -1 in a categorical one, a bad row in the label column. Blank
 * lines are ignored and do not count as rows. Line numbers in messages are 1-based file lines
 * (the header is line 1) of the line where the record starts.
 *
 * Existence of the file is checked at first read (`inferSchema` or `batches`), not on
 * construction, so a source can be described before its file exists.
 *
 * @module
 */
import { DataEmptyError, DataParseError, LabelNotFoundError } from '../errors.js';
import type { RowScratch } from './batch-builder.js';
import { readCsvRecords, type CsvRecord } from './csv-records.js';
import { resolveBatchOptions, resolveInferOptions } from './data-options.js';
import { LocalFile, type DataFile } from './data-file.js';
import { recordsToBatches, recordsToSpans, spanBatch, type RecordDecoder } from './row-batches.js';
import { buildSchema, ColumnStats } from './schema-inference.js';
import { categoryFromText, labelFromText, numericFromText } from './text-fields.js';
import type { BatchOptions, BatchSpan, DataSource, InferOptions, RawBatch, Schema, SpanAccess } from './types.js';

/** Options of {@link CsvSource}. */
export interface CsvSourceOptions {
  /** What the user named; defaults to `csv:<path>`. */
  readonly description?: string;
  /** The label column's default, when the dataset has a conventional one. */
  readonly defaultLabel?: string;
  /** The user named the file by absolute path or URL (likely shared storage): see `SpanAccess.shared`. */
  readonly shared?: boolean;
}

/** Checks a header row and returns its column names. */
function headerNames(header: CsvRecord, path: string): string[] {
  const seen = new Set<string>();
  for (const name of header.fields) {
    if (seen.has(name)) {
      throw new DataParseError(
        `${path}:${header.line}: column name '${name}' appears twice in the header`,
      );
    }
    seen.add(name);
  }
  return header.fields;
}

/** Where each schema column sits in the file's rows. */
function columnIndexes(names: readonly string[], schema: Schema, path: string, line: number) {
  const find = (name: string): number => {
    const at = names.indexOf(name);
    if (at < 0) {
      throw new DataParseError(
        `${path}:${line}: schema column '${name}' is not in the header; columns: ${names.join(', ')}`,
      );
    }
    return at;
  };
  const label = names.indexOf(schema.label);
  if (label < 0) {
    throw new LabelNotFoundError(
      `label column '${schema.label}' is not in ${path}; columns: ${names.join(', ')}`,
    );
  }
  return { numeric: schema.numeric.map(find), categorical: schema.categorical.map(find), label };
}

/** Decodes a record into a row by the header's column positions; throws on a bad row. */
function recordDecoder(names: readonly string[], schema: Schema, path: string, headerLine: number): RecordDecoder<CsvRecord> {
  const width = names.length;
  const at = columnIndexes(names, schema, path, headerLine);
  return ({ fields, line }, row: RowScratch): void => {
    if (fields.length !== width) {
      throw new DataParseError(
        `${path}:${line}: expected ${width} fields (as in the header), got ${fields.length}`,
      );
    }
    for (let i = 0; i < at.numeric.length; i++) {
      row.numeric[i] = numericFromText(fields[at.numeric[i]!]!, path, line, schema.numeric[i]!);
    }
    for (let i = 0; i < at.categorical.length; i++) {
      row.categorical[i] = categoryFromText(fields[at.categorical[i]!]!);
    }
    row.label = labelFromText(fields[at.label]!, schema.task, path, line, schema.label);
  };
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
  #header: Promise<CsvRecord> | undefined;

  /**
   * @param file - The CSV file: a path (resolved against the process's working directory), or
   *   where to read it (e.g. an `HttpFile`).
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
      spans: (schema, batchOptions) => this.#spans(schema, batchOptions),
      readSpan: (schema, span, batchOptions) => this.#readSpan(schema, span, batchOptions),
    };
  }

  /**
   * Infers the schema from the header and up to `sampleRows` leading data rows. Rows with the
   * wrong number of fields are left out of the statistics: whether they are errors is decided by
   * the bad-row policy when batches are read.
   *
   * @throws DataNotFoundError, DataEmptyError (empty file or header only), DataParseError
   *   (malformed CSV, duplicate column names), LabelNotFoundError listing the columns.
   */
  async inferSchema(options: InferOptions): Promise<Schema> {
    const filled = resolveInferOptions(options);
    let names: string[] | undefined;
    let stats: ColumnStats[] = [];
    let rows = 0;
    for await (const record of readCsvRecords(this.#file)) {
      if (names === undefined) {
        names = headerNames(record, this.path);
        stats = names.map(() => new ColumnStats());
        continue;
      }
      rows++;
      if (record.fields.length === names.length) {
        record.fields.forEach((text, i) => stats[i]!.observeText(text));
      }
      if (rows >= filled.sampleRows) break;
    }
    if (names === undefined) throw new DataEmptyError(`${this.path} is empty`);
    return buildSchema({ names, stats, rows, typedNumbers: false }, filled, this.path);
  }

  /**
   * Streams the file as raw batches. Columns are matched to the schema by header name; extra
   * columns are ignored.
   *
   * @throws (by rejecting) InvalidOptionError for bad options; DataNotFoundError; DataEmptyError;
   *   LabelNotFoundError; DataParseError for a schema column missing from the header, malformed
   *   CSV or (bad row) a wrong field count; DataValueError (bad row) for a value not allowed in
   *   its column or a missing label.
   */
  async *batches(schema: Schema, options: BatchOptions): AsyncGenerator<RawBatch> {
    const filled = resolveBatchOptions(options);
    const path = this.path;
    const records = readCsvRecords(this.#file);
    try {
      const first = await records.next();
      if (first.done === true) throw new DataEmptyError(`${path} is empty`);
      const decode = recordDecoder(headerNames(first.value, path), schema, path, first.value.line);
      yield* recordsToBatches(records, decode, schema, filled, path);
    } finally {
      // Closes the file when the header check fails or the caller stops early.
      await records.return(undefined);
    }
  }

  /** The byte ranges of the batches `batches()` yields (see `SpanAccess.spans`). */
  async *#spans(schema: Schema, options: BatchOptions): AsyncGenerator<BatchSpan> {
    const filled = resolveBatchOptions(options);
    const path = this.path;
    const version = await this.#file.version();
    // The pass reads the version it noted: a file that changes meanwhile fails here, not on a worker.
    const records = readCsvRecords(this.#file, { offsets: true, expect: version });
    try {
      const first = await records.next();
      if (first.done === true) throw new DataEmptyError(`${path} is empty`);
      const decode = recordDecoder(headerNames(first.value, path), schema, path, first.value.line);
      yield* recordsToSpans(records, decode, schema, filled, path, version);
    } finally {
      await records.return(undefined);
    }
  }

  /** Reads one batch by its byte range, as a worker does. */
  async #readSpan(schema: Schema, span: BatchSpan, options: BatchOptions): Promise<RawBatch> {
    const filled = resolveBatchOptions(options);
    const path = this.path;
    const expect = span.tag === undefined ? { size: span.size } : { size: span.size, tag: span.tag };
    this.#header ??= (async () => {
      // Only the header's bytes are read: the stream stops after the first record.
      const records = readCsvRecords(this.#file, { expect });
      try {
        const first = await records.next();
        if (first.done === true) throw new DataEmptyError(`${path} is empty`);
        return first.value;
      } finally {
        await records.return(undefined);
      }
    })();
    // A failed read is not kept: the next batch tries again.
    const header = await this.#header.catch((err: unknown) => {
      this.#header = undefined;
      throw err;
    });
    const decode = recordDecoder(headerNames(header, path), schema, path, header.line);
    const records = readCsvRecords(this.#file, { start: span.start, end: span.end, line: span.line, expect });
    return spanBatch(recordsToBatches(records, decode, schema, filled, path, { id: span.id, row: span.row }), span, path);
  }
}
