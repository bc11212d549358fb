/**
 * A gzip-compressed data file (`.csv.gz`, `.jsonl.gz`), local or at a URL: its bytes are
 * decompressed as they stream (zlib runs off the main thread, in libuv's pool).
 *
 * A compressed stream cannot be entered in the middle, so such a file is not read by byte range:
 * the reader decompresses it once, front to back, and cuts it into chunks of whole records whose
 * bytes travel to the workers (`DataFile.ranged` is false). Concatenated gzip members (what
 * `cat a.gz b.gz` or parallel compressors write) decompress as one stream, as gunzip does.
 *
 * @module
 */
import { pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DataParseError, isMlscaleError } from '../errors.js';
import type { ByteRange, DataFile, FileVersion } from './data-file.js';

/** True when a path or URL names a gzip file by its ending. */
export function isGzipName(name: string): boolean {
  return /\.gz$/i.test(name.replace(/[?#].*$/, ''));
}

/** The decompressed bytes of a gzip file. */
export class GzipFile implements DataFile {
  readonly name: string;
  readonly location: string;
  readonly ranged = false;
  readonly local: boolean;
  readonly #inner: DataFile;

  /** @param inner - The compressed file (local or HTTP). */
  constructor(inner: DataFile) {
    this.#inner = inner;
    this.name = inner.name;
    this.location = inner.location;
    this.local = inner.local;
  }

  async open(range?: ByteRange, expect?: FileVersion): Promise<Readable> {
    if (range !== undefined && (range.start > 0 || range.end !== undefined)) {
      throw new TypeError(`${this.name} is gzip-compressed and cannot be read by byte range`);
    }
    const compressed = await this.#inner.open(undefined, expect);
    const gunzip = createGunzip();
    // Errors surface through the gunzip stream the reader iterates; pipeline tears both down.
    pipeline(compressed, gunzip, () => {});
    return gunzip;
  }

  read(): Promise<Uint8Array> {
    return Promise.reject(
      new TypeError(`${this.name} is gzip-compressed and cannot be read by byte range`),
    );
  }

  version(): Promise<FileVersion> {
    return this.#inner.version();
  }

  readError(err: unknown): unknown {
    if (isMlscaleError(err)) return err;
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' || code === 'Z_STREAM_ERROR') {
      const why =
        code === 'Z_BUF_ERROR'
          ? 'it ends in the middle of the compressed stream (a truncated download?)'
          : `it is not valid gzip data (${(err as Error).message})`;
      return new DataParseError(`${this.name}: cannot decompress: ${why}`, { cause: err });
    }
    return this.#inner.readError(err);
  }
}
