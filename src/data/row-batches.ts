/**
 * The read loop shared by the file sources: decode each record into the batch builder, apply the
 * bad-row policy, and hand out batches in order.
 *
 * @module
 */
import { DataEmptyError, DataParseError, DataValueError } from '../errors.js';
import { BatchBuilder, type RowScratch } from './batch-builder.js';
import type { BatchOptions, RawBatch, Schema } from './types.js';

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
 * @throws DataEmptyError when there is no data row, or every row was skipped as bad.
 */
export async function* recordsToBatches<R>(
  records: AsyncIterable<R>,
  decode: RecordDecoder<R>,
  schema: Schema,
  options: BatchOptions,
  where: string,
): AsyncGenerator<RawBatch> {
  const builder = new BatchBuilder(schema, options.batchRows);
  const skipBadRows = options.onBadRow === 'skip';
  let rowIndex = 0;
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
