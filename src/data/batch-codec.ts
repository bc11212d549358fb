/**
 * The batch cache's binary form of a raw batch: one buffer holding a fixed header, the typed
 * arrays as raw little-endian bytes (each 8-byte aligned) and the two dictionaries as JSON.
 * Decoding makes typed-array views on the buffer, so a cached batch is read without parsing or
 * copying, whether the buffer is in shared memory or was just read from a file.
 *
 * @module
 */
import { DataParseError } from '../errors.js';
import type { RawBatch } from './types.js';

/** "MLB1" as a little-endian uint32: the format's magic number. */
const kMagic = 0x31424c4d;
const kVersion = 1;
/** Header words (int32). */
const kHeaderWords = 12;
const kHeaderBytes = kHeaderWords * 4;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

const align8 = (n: number): number => (n + 7) & ~7;

/** Where each part of a batch lies in its encoded buffer. */
interface Layout {
  readonly rowIndex: number;
  readonly numeric: number;
  readonly catCodes: number;
  readonly labels: number;
  readonly dicts: number;
  readonly total: number;
}

function layoutOf(
  rows: number,
  numericLength: number,
  catLength: number,
  dictBytes: number,
): Layout {
  const rowIndex = align8(kHeaderBytes);
  const numeric = rowIndex + rows * 8;
  const catCodes = align8(numeric + numericLength * 4);
  const labels = align8(catCodes + catLength * 4);
  const dicts = align8(labels + rows * 4);
  return { rowIndex, numeric, catCodes, labels, dicts, total: dicts + dictBytes };
}

/**
 * Encodes a batch.
 *
 * @param batch - The batch.
 * @param shared - Put it in a `SharedArrayBuffer` (threads of this process read it in place);
 *   otherwise a plain buffer (to write to a file or send).
 * @returns The encoded bytes: the whole of their buffer.
 */
export function encodeBatch(batch: RawBatch, shared: boolean): Uint8Array {
  const labelDict = batch.labels.kind === 'categorical' ? batch.labels.dict : null;
  const dicts = utf8.encode(JSON.stringify([batch.catDict, labelDict]));
  const rows = batch.rowCount;
  const at = layoutOf(rows, batch.numeric.length, batch.catCodes.length, dicts.length);
  const buffer = shared ? new SharedArrayBuffer(at.total) : new ArrayBuffer(at.total);
  const header = new Int32Array(buffer, 0, kHeaderWords);
  header.set([
    kMagic,
    kVersion,
    batch.id,
    rows,
    batch.numeric.length,
    batch.catCodes.length,
    labelDict === null ? 0 : 1,
    batch.skippedRows,
    dicts.length,
  ]);
  new Float64Array(buffer, at.rowIndex, rows).set(batch.rowIndex);
  new Float32Array(buffer, at.numeric, batch.numeric.length).set(batch.numeric);
  new Int32Array(buffer, at.catCodes, batch.catCodes.length).set(batch.catCodes);
  if (batch.labels.kind === 'categorical')
    new Int32Array(buffer, at.labels, rows).set(batch.labels.codes);
  else new Float32Array(buffer, at.labels, rows).set(batch.labels.values);
  const bytes = new Uint8Array(buffer);
  bytes.set(dicts, at.dicts);
  return bytes;
}

/**
 * Decodes a batch encoded by {@link encodeBatch}.
 *
 * @param bytes - The encoded bytes; its buffer must be 8-byte aligned at `byteOffset` (a whole
 *   buffer, as files are read and as `encodeBatch` makes them).
 * @param copy - Give the batch arrays of its own (a stages module may change them in place, and
 *   the cache must not change), rather than views on `bytes`.
 * @param where - Names the cache entry in messages.
 * @throws DataParseError when the bytes are not a cached batch of this format.
 */
export function decodeBatch(bytes: Uint8Array, copy: boolean, where: string): RawBatch {
  const base = bytes.byteOffset;
  if (base % 8 !== 0 || bytes.length < kHeaderBytes)
    throw new DataParseError(`${where} is not a cached batch (too short or misaligned)`);
  const buffer = bytes.buffer as ArrayBuffer;
  const header = new Int32Array(buffer, base, kHeaderWords);
  if (header[0] !== kMagic || header[1] !== kVersion)
    throw new DataParseError(`${where} is not a cached batch of format ${kVersion}`);
  const [, , id, rows, numericLength, catLength, labelKind, skippedRows, dictBytes] =
    header as unknown as number[];
  const at = layoutOf(rows!, numericLength!, catLength!, dictBytes!);
  if (at.total > bytes.length)
    throw new DataParseError(`${where} is truncated: ${bytes.length} bytes of ${at.total}`);
  const view = <T>(
    make: (offset: number, length: number) => T,
    offset: number,
    length: number,
  ): T => make(base + offset, length);
  const f64 = (o: number, n: number) => new Float64Array(buffer, o, n);
  const f32 = (o: number, n: number) => new Float32Array(buffer, o, n);
  const i32 = (o: number, n: number) => new Int32Array(buffer, o, n);
  const [catDict, labelDict] = JSON.parse(
    fromUtf8.decode(bytes.subarray(at.dicts, at.dicts + dictBytes!)),
  ) as [string[], string[] | null];
  const own = <T extends Float64Array | Float32Array | Int32Array>(a: T): T =>
    copy ? (a.slice() as T) : a;
  const rowIndex = own(view(f64, at.rowIndex, rows!));
  const numeric = own(view(f32, at.numeric, numericLength!));
  const catCodes = own(view(i32, at.catCodes, catLength!));
  const labels: RawBatch['labels'] =
    labelKind === 1
      ? { kind: 'categorical', codes: own(view(i32, at.labels, rows!)), dict: labelDict ?? [] }
      : { kind: 'numeric', values: own(view(f32, at.labels, rows!)) };
  return {
    id: id!,
    rowCount: rows!,
    rowIndex,
    numeric,
    catCodes,
    catDict,
    labels,
    skippedRows: skippedRows!,
  };
}
