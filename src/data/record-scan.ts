/**
 * Finds where records start and end in a CSV or JSON Lines byte stream, without parsing them: the
 * fast pass that lets a driver cut a file into batches (byte ranges of whole records) and hand
 * the parsing to its workers.
 *
 * A record ends at a line break outside a quoted field. With `quotes` (CSV, RFC 4180), a field
 * that opens with a double quote runs to the matching closing quote, line breaks included, and a
 * doubled quote inside it is a literal quote; a quote anywhere else is data here (the parser
 * reports it as an invalid quote). Without `quotes` (JSON Lines) every line break ends a record:
 * JSON strings cannot hold a raw line break. Blank lines are no records (for JSON Lines, lines of
 * spaces are blank too), as csv-parse and the JSON Lines reader skip them.
 *
 * Line breaks are LF or CRLF; a file whose first megabyte holds CR but no LF is taken to end its
 * lines with a lone CR (classic Mac). Lines are counted per break, so each chunk knows the line
 * it starts on, for error messages.
 *
 * The loop runs on whole buffers with `indexOf` (memchr) for line breaks and quotes, so a file
 * without quotes is scanned at memory speed; only the bytes between a quote and its match are
 * walked one by one.
 *
 * @module
 */
import { DataParseError } from '../errors.js';

/** A run of whole records: one batch's worth of a file. */
export interface RecordChunk {
  /** 0, 1, 2, ... in file order. */
  readonly id: number;
  /** Byte offset of the chunk's first byte (just after the previous chunk). */
  readonly start: number;
  /** Byte offset just past the chunk's last record and its line break. */
  readonly end: number;
  /** 1-based line number at `start`. */
  readonly line: number;
  /** Records before this chunk (its first record's index). */
  readonly row: number;
  /** Records in the chunk (blank lines not counted). */
  readonly records: number;
  /** The chunk's bytes, when asked for: a fresh buffer of its own, safe to transfer. */
  readonly bytes?: Uint8Array;
}

/** How to scan. */
export interface ScanOptions {
  /** CSV quoting (fields opening with `"` may hold line breaks); false for JSON Lines. */
  readonly quotes: boolean;
  /** Records per chunk (a batch's rows). */
  readonly records: number;
  /** Keep each chunk's bytes (for a source that cannot be read again by byte range). */
  readonly keepBytes: boolean;
  /** Offset and line where the stream starts (after a CSV header). */
  readonly start?: number;
  readonly line?: number;
  /** The file, for messages. */
  readonly path: string;
  /** Stop after this many chunks (reading a file's header needs one). */
  readonly maxChunks?: number;
  /** The line-break byte, when known (from the file's start); else found from the first bytes. */
  readonly term?: number;
}

const kLf = 10;
const kCr = 13;
const kQuote = 34;
const kComma = 44;
const kSpace = 32;
const kTab = 9;

/**
 * Longest record accepted, in bytes. A longer one is almost always a quote that never closes (the
 * rest of the file would become one field), so the scan stops with the line where it opened
 * instead of buffering the file.
 */
export const kMaxRecordBytes = 16 * 1024 * 1024;

/** The line-break byte of a file, from its first bytes: LF, or CR for lone-CR files. */
export function lineBreakOf(first: Uint8Array): number {
  return first.indexOf(kLf) === -1 && first.indexOf(kCr) !== -1 ? kCr : kLf;
}

/** Counts `byte` in `buf[from, to)`. */
function countByte(buf: Uint8Array, byte: number, from: number, to: number): number {
  let count = 0;
  for (let i = buf.indexOf(byte, from); i !== -1 && i < to; i = buf.indexOf(byte, i + 1)) count++;
  return count;
}

/**
 * True when `buf[from, to)` holds a byte that makes a line a record, not a blank line: any byte
 * but CR (for CSV, `quotes`), or but CR, space and tab (JSON Lines).
 */
export function hasContentBytes(
  buf: Uint8Array,
  from: number,
  to: number,
  quotes: boolean,
): boolean {
  for (let i = from; i < to; i++) {
    const b = buf[i]!;
    if (b === kCr) continue;
    // CSV: a line of spaces is a record of one field; JSON Lines: blank.
    if (!quotes && (b === kSpace || b === kTab)) continue;
    return true;
  }
  return false;
}

/**
 * Copies byte slices into one new buffer with its own ArrayBuffer: `Buffer.concat` may return a
 * slice of Node's shared pool, which must never be transferred to another thread.
 */
function concatOwned(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Scans a byte stream into chunks of `options.records` records.
 *
 * @param stream - The file's bytes from `options.start` (a read stream).
 * @param options - Quoting, chunk size, where the stream starts.
 * @throws DataParseError naming the line where a quoted field opened when it never closes, or a
 *   record over {@link kMaxRecordBytes}.
 */
export async function* scanRecords(
  stream: AsyncIterable<Uint8Array>,
  options: ScanOptions,
): AsyncGenerator<RecordChunk> {
  const { quotes, keepBytes, path } = options;
  const perChunk = options.records;
  const maxChunks = options.maxChunks ?? Infinity;
  let term = options.term ?? -1;
  let offset = options.start ?? 0; // absolute offset of the current buffer's first byte
  let line = options.line ?? 1;
  // The open record.
  let quoted = false;
  let quotePending = false; // a quote ended the last buffer inside a quoted field
  let atFieldStart = true; // the next byte starts a field
  let content = false; // the record has a byte that makes it non-blank
  let recordStart = offset;
  let quoteLine = line;
  // The open chunk.
  let id = 0;
  let chunkStart = offset;
  let chunkLine = line;
  let chunkRow = 0;
  let records = 0;
  let parts: Uint8Array[] = [];
  let partsBytes = 0;

  for await (const buf of stream) {
    const n = buf.length;
    if (term === -1) term = lineBreakOf(buf.subarray(0, 1 << 20));
    let i = 0;
    let partStart = 0;
    let nextQuote = -1; // position of the next quote at or after i, n when none
    if (quotePending) {
      quotePending = false;
      if (n > 0 && buf[0] === kQuote)
        i = 1; // an escaped quote: still quoted
      else {
        quoted = false;
        atFieldStart = false;
      }
    }
    const ended: RecordChunk[] = [];
    while (i < n) {
      if (quoted) {
        const q = buf.indexOf(kQuote, i);
        if (q === -1) {
          line += countByte(buf, term, i, n);
          i = n;
          break;
        }
        line += countByte(buf, term, i, q);
        if (q + 1 === n) {
          quotePending = true;
          i = n;
          break;
        }
        if (buf[q + 1] === kQuote) {
          i = q + 2;
          continue;
        }
        quoted = false;
        atFieldStart = false;
        i = q + 1;
        continue;
      }
      const nl = buf.indexOf(term, i);
      const end = nl === -1 ? n : nl;
      if (quotes) {
        if (nextQuote < i) {
          nextQuote = buf.indexOf(kQuote, i);
          if (nextQuote === -1) nextQuote = n;
        }
        if (nextQuote < end) {
          const q = nextQuote;
          content = true;
          const opens = q === i ? atFieldStart : buf[q - 1] === kComma;
          i = q + 1;
          if (opens) {
            quoted = true;
            quoteLine = line;
          } else {
            atFieldStart = false;
          }
          continue;
        }
      }
      if (!content && end > i) content = hasContentBytes(buf, i, end, quotes);
      if (nl === -1) {
        if (n > i) atFieldStart = buf[n - 1] === kComma;
        i = n;
        break;
      }
      // A record (or a blank line) ends at nl.
      line++;
      i = nl + 1;
      atFieldStart = true;
      recordStart = offset + i;
      if (!content) continue;
      content = false;
      records++;
      if (records === perChunk) {
        const chunkEnd = offset + i;
        let bytes: Uint8Array | undefined;
        if (keepBytes) {
          parts.push(buf.subarray(partStart, i));
          partsBytes += i - partStart;
          bytes = concatOwned(parts, partsBytes);
          parts = [];
          partsBytes = 0;
          partStart = i;
        }
        ended.push({
          id,
          start: chunkStart,
          end: chunkEnd,
          line: chunkLine,
          row: chunkRow,
          records,
          ...(bytes ? { bytes } : {}),
        });
        id++;
        chunkStart = chunkEnd;
        chunkLine = line;
        chunkRow += records;
        records = 0;
        if (id >= maxChunks) break;
      }
    }
    if (keepBytes && partStart < n && id < maxChunks) {
      // Copied now: the stream may reuse its buffer once we ask for the next one.
      parts.push(buf.slice(partStart, n));
      partsBytes += n - partStart;
    }
    offset += n;
    yield* ended;
    if (id >= maxChunks) return;
    if (offset - recordStart > kMaxRecordBytes) {
      throw new DataParseError(
        quoted
          ? `${path}:${quoteLine}: a quoted field opens here and has not closed ${kMaxRecordBytes / (1 << 20)} MiB later: an unterminated quote?`
          : `${path}:${line}: a line of over ${kMaxRecordBytes / (1 << 20)} MiB: is this a ${quotes ? 'CSV' : 'JSON Lines'} file?`,
      );
    }
  }
  // A quote pending at the end closes its field; one still open never closes.
  if (quoted && !quotePending) {
    throw new DataParseError(
      `${path}:${quoteLine}: a quoted field opens here and is never closed (unterminated quote)`,
    );
  }
  if (content) records++; // the last record has no line break after it
  if (records > 0 && id < maxChunks) {
    const bytes = keepBytes ? concatOwned(parts, partsBytes) : undefined;
    yield {
      id,
      start: chunkStart,
      end: offset,
      line: chunkLine,
      row: chunkRow,
      records,
      ...(bytes ? { bytes } : {}),
    };
  }
}

/**
 * Where the record that starts at `from` ends, walking quotes byte by byte: the index of its line
 * break (or `to` for the last record), and how many line breaks it spans inside quoted fields.
 * For the parser's slow path: a record with a quote in it.
 *
 * @returns `end` = -1 when a quoted field is still open at `to`.
 */
export function quotedRecordEnd(
  buf: Uint8Array,
  from: number,
  to: number,
  term: number,
): { end: number; lines: number } {
  let quoted = false;
  let atFieldStart = true;
  let lines = 0;
  for (let i = from; i < to; i++) {
    const b = buf[i]!;
    if (quoted) {
      if (b === kQuote) {
        if (buf[i + 1] === kQuote && i + 1 < to) i++;
        else {
          quoted = false;
          atFieldStart = false;
        }
      } else if (b === term) lines++;
      continue;
    }
    if (b === term) return { end: i, lines };
    if (b === kQuote && atFieldStart) quoted = true;
    atFieldStart = b === kComma;
  }
  return { end: quoted ? -1 : to, lines };
}
