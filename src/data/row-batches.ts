/**
 * The read loop shared by the file sources: decode each record into the batch builder, apply the
 * bad-row policy, and hand out batches in order.
 *
 * @module
 */
import { DataEmptyError, DataParseError, DataValueError } from '../errors.js';
import { BatchBuilder, type RowScratch } from './batch-builder.js';
import type { FileVersion } from './data-file.js';
import type { BatchOptions, BatchSpan, RawBatch, Schema } from './types.js';

/**
 * Fills the scratch row from one record, or throws `DataParseError` / `DataValueError` when the
 * record is a bad row. Any other error ends the stream whatever the bad-row policy.
 */
export type RecordDecoder<R> = (record: R, row: RowScratch) => void;

/**
 * Streams raw batches from records, one dataset row per record.
 *
 * Every record counts as a row, bad or not, so `rowIndex` of later rows does not depend on the
 * bad-row policy.
 *
 * @param records - Data records in file order (header and blank lines already removed).
 * @param decode - Turns a record into a row.
 * @param schema - The schema batches follow.
 * @param options - Validated batch options.
 * @param where - The file, for messages.
 * @param from - Where `records` start (a worker reading one batch's byte range): the id of the
 *   first batch and the dataset index of the first record. Default 0 and 0.
 * @throws DataEmptyError when there is no data row, or every row was skipped as bad.
 */
export async function* recordsToBatches<R>(
  records: AsyncIterable<R>,
  decode: RecordDecoder<R>,
  schema: Schema,
  options: BatchOptions,
  where: string,
  from: { readonly id: number; readonly row: number } = { id: 0, row: 0 },
): AsyncGenerator<RawBatch> {
  const builder = new BatchBuilder(schema, options.batchRows, from.id);
  const skipBadRows = options.onBadRow === 'skip';
  let rowIndex = from.row;
  for await (const record of records) {
    try {
      decode(record, builder.row);
    } catch (err) {
      if (!(skipBadRows && (err instanceof DataParseError || err instanceof DataValueError))) {
        throw err;
      }
      builder.skip();
      rowIndex++;
      continue;
    }
    const done = builder.commit(rowIndex++);
    if (done !== undefined) yield done;
  }
  const last = builder.finish();
  if (last !== undefined) {
    yield last;
  } else if (builder.skippedTotal > 0) {
    // No batch exists to carry the count, and a dataset with no usable row is empty.
    throw new DataEmptyError(
      `every one of the ${builder.skippedTotal} data rows of ${where} was bad and skipped`,
    );
  } else {
    throw new DataEmptyError(`${where} has no data rows`);
  }
}

/** A record with where it starts in its file. */
export interface PlacedRecord {
  readonly line: number;
  /** Byte offset of the record's first byte. */
  readonly offset: number;
}

/**
 * Finds the byte ranges of the batches `recordsToBatches` would cut from the same records,
 * decoding every record (so bad rows are found, and fail or are skipped, exactly as there) but
 * building no batch: the driver of a distributed run hands out these ranges, and each worker
 * reads its own.
 *
 * @param version - The file's size in bytes (where the last range ends) and tag, noted in each
 *   range so that a worker can check its file is the same.
 * @throws The errors of `recordsToBatches`, at the same records.
 */
export async function* recordsToSpans<R extends PlacedRecord>(
  records: AsyncIterable<R>,
  decode: RecordDecoder<R>,
  schema: Schema,
  options: BatchOptions,
  where: string,
  version: FileVersion,
): AsyncGenerator<BatchSpan> {
  const { size } = version;
  const tag = version.tag === undefined ? {} : { tag: version.tag };
  const row = new BatchBuilder(schema, 1).row;
  const skipBadRows = options.onBadRow === 'skip';
  let rowIndex = 0;
  let skipped = 0;
  let open: { id: number; start: number; line: number; row: number; rows: number } | undefined;
  let first: { start: number; line: number } | undefined;
  let nextId = 0;
  for await (const record of records) {
    first ??= { start: record.offset, line: record.line };
    try {
      decode(record, row);
    } catch (err) {
      if (!(skipBadRows && (err instanceof DataParseError || err instanceof DataValueError))) {
        throw err;
      }
      skipped++;
      rowIndex++;
      continue;
    }
    if (open !== undefined && open.rows === options.batchRows) {
      yield { ...open, end: record.offset, size, ...tag };
      open = undefined;
    }
    if (open === undefined) {
      // Batch 0's range starts at the first record, so bad rows before its first good one are its own.
      const id = nextId++;
      open = id === 0 ? { id, start: first.start, line: first.line, row: 0, rows: 0 } : { id, start: record.offset, line: record.line, row: rowIndex, rows: 0 };
    }
    open.rows++;
    rowIndex++;
  }
  if (open !== undefined) {
    yield { ...open, end: size, size, ...tag };
  } else if (skipped > 0) {
    throw new DataEmptyError(`every one of the ${skipped} data rows of ${where} was bad and skipped`);
  } else {
    throw new DataEmptyError(`${where} has no data rows`);
  }
}

/**
 * The one batch of a byte range, checked against what the driver found there: a worker whose
 * file differs from the driver's fails instead of training on other rows.
 */
export async function spanBatch(batches: AsyncIterable<RawBatch>, span: BatchSpan, where: string): Promise<RawBatch> {
  let batch: RawBatch | undefined;
  for await (const b of batches) {
    if (batch !== undefined) {
      batch = undefined;
      break;
    }
    batch = b;
  }
  if (batch === undefined || batch.rowCount !== span.rows) {
    throw new DataParseError(
      `${where}:${span.line}: batch ${span.id} (bytes ${span.start}-${span.end}) does not hold the ${span.rows} rows the driver read there: ` +
        'the file differs from the driver\'s; give every machine the same file, or ship the rows (mlscale train --ship-rows)',
    );
  }
  return batch;
}
