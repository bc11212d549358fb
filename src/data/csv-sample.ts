/**
 * Column statistics of a sample of CSV records, for schema inference.
 *
 * @module
 */
import { DataParseError } from '../errors.js';
import { fieldEnd, kComma, kCr, kLf, kQuote, parseQuotedRecord } from './csv-chunk.js';
import { fastNumber, numberEnd } from './csv-number.js';
import type { NaValues } from './na-values.js';
import { hasContentBytes, quotedRecordEnd } from './record-scan.js';
import type { ColumnStats } from './schema-inference.js';

/**
 * Feeds every field of a chunk's records to per-column statistics, for schema inference: the
 * same splitting as {@link parseCsvChunk}, and numbers read from bytes on the fast path (so a
 * sample of 10,000 rows costs milliseconds, not a regular expression per field). Records whose
 * field count differs from `stats.length` are left out (whether they are errors is decided when
 * batches are read).
 *
 * @returns The records seen.
 */
export function observeCsvChunk(
  data: Uint8Array,
  term: number,
  stats: readonly ColumnStats[],
  na: NaValues,
  path: string,
  line: number,
): number {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const width = stats.length;
  const n = buf.length;
  const checkTokens = na.numericTokenLength > 0;
  let records = 0;
  let pos = 0;
  let nextQuote = -1;
  while (pos < n) {
    const nl = buf.indexOf(term, pos);
    const lineEnd = nl === -1 ? n : nl;
    if (!hasContentBytes(buf, pos, lineEnd, true)) {
      pos = lineEnd + 1;
      line++;
      continue;
    }
    records++;
    // The next quote is searched for once, not from every record: a quote-free chunk is scanned once.
    if (nextQuote < pos) {
      nextQuote = buf.indexOf(kQuote, pos);
      if (nextQuote === -1) nextQuote = n;
    }
    if (nextQuote < lineEnd) {
      const { end, lines } = quotedRecordEnd(buf, pos, n, term);
      if (end === -1)
        throw new DataParseError(
          `${path}:${line}: a quoted field in this record is never closed (unterminated quote)`,
        );
      const fields = parseQuotedRecord(buf.subarray(pos, end), path, line);
      if (fields.length === width) fields.forEach((text, i) => stats[i]!.observeText(text, na));
      line += lines + 1;
      pos = end + 1;
      continue;
    }
    const end = term === kLf && lineEnd > pos && buf[lineEnd - 1] === kCr ? lineEnd - 1 : lineEnd;
    let fields = 1;
    for (let i = pos; i < end; i++) if (buf[i] === kComma) fields++;
    if (fields === width) {
      let s = pos;
      for (let field = 0; field < width; field++) {
        const value = s < end && buf[s] !== kComma ? fastNumber(buf, s, end) : NaN;
        let e = numberEnd;
        if (value === value && !checkTokens && (e === end || buf[e] === kComma))
          stats[field]!.observeNumber(value);
        else {
          e = fieldEnd(buf, s, end);
          stats[field]!.observeText(buf.toString('utf8', s, e), na);
        }
        s = e + 1;
      }
    }
    line++;
    pos = lineEnd + 1;
  }
  return records;
}
