/**
 * The batch spans of a scanned file: each chunk of whole records the byte scan found, as the
 * byte range (and file version) a worker reads it by. Shared by the CSV and JSON Lines sources.
 *
 * @module
 */
import { DataEmptyError } from '../errors.js';
import type { FileVersion } from './data-file.js';
import type { RecordChunk } from './record-scan.js';
import type { BatchSpan } from './types.js';

/** Yields a span per chunk; a file with no records is a DataEmptyError naming `path`. */
export async function* chunkSpans(
  chunks: AsyncIterable<RecordChunk>,
  version: FileVersion,
  path: string,
): AsyncGenerator<BatchSpan> {
  const tag = version.tag === undefined ? {} : { tag: version.tag };
  let any = false;
  for await (const chunk of chunks) {
    any = true;
    yield {
      id: chunk.id,
      start: chunk.start,
      end: chunk.end,
      line: chunk.line,
      row: chunk.row,
      rows: chunk.records,
      size: version.size,
      ...tag,
      ...(chunk.bytes ? { bytes: chunk.bytes } : {}),
    };
  }
  if (!any) throw new DataEmptyError(`${path} has no data rows`);
}
