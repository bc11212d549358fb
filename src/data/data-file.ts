/**
 * Where a CSV or JSON Lines source reads its bytes from: a local file, or an HTTP(S) URL
 * (`http-file.ts`). The readers (`record-scan.ts` and the sources) only ever ask for a stream of
 * bytes, whole or of a byte range, so both kinds parse the same way, with the same errors.
 *
 * @module
 */
import { closeSync, createReadStream, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { isMainThread } from 'node:worker_threads';
import { DataNotFoundError, DataParseError } from '../errors.js';
import { toReadError } from './file-access.js';

/** Part of a file: from byte `start` up to (not including) byte `end`, or to the file's end. */
export interface ByteRange {
  readonly start: number;
  readonly end?: number;
}

/**
 * What identifies a file's content where the driver read it: a worker reading a byte range of
 * the file must see the same version, or the range would hold other rows.
 */
export interface FileVersion {
  /** Size in bytes. */
  readonly size: number;
  /** For a URL: the server's ETag, else its Last-Modified date, when it gave one. */
  readonly tag?: string;
  /**
   * For a local file: its modification time (ms). Not compared between machines (a copy of the
   * file at the same path on each machine has its own), only part of the batch cache's key.
   */
  readonly modified?: number;
}

/** Bytes of a data file, as the file sources read them. */
export interface DataFile {
  /** The file as named in messages: its path, or its URL (password hidden). */
  readonly name: string;
  /** Where another process reopens it: the path, or the URL as given. */
  readonly location: string;
  /**
   * Opens the file's bytes, or a range of them. Rejects with `DataNotFoundError` naming the file
   * when it is missing or unreachable.
   *
   * @param range - Read only this part; default the whole file.
   * @param expect - The version the driver read: rejects with `DataParseError` when the file
   *   here differs (another size, ETag or Last-Modified).
   */
  open(range?: ByteRange, expect?: FileVersion): Promise<Readable>;
  /**
   * Reads a byte range whole, into a buffer of its own (safe to transfer to another thread).
   * Rejects as `open` does.
   */
  read(range: Required<ByteRange>, expect?: FileVersion): Promise<Uint8Array>;
  /** False when the file cannot be read by byte range (a compressed stream): `read` rejects. */
  readonly ranged: boolean;
  /** True for a file on this machine's file system, false for one at a URL. */
  readonly local: boolean;
  /** The file's current version (its size, and for a URL its ETag or Last-Modified). */
  version(): Promise<FileVersion>;
  /** Maps an error met while streaming the bytes `open` gave to a coded error naming the file. */
  readError(err: unknown): unknown;
}

/**
 * The message for a file that differs between the driver and a worker.
 *
 * @param name - The file.
 * @param what - What differs, e.g. `is 10 bytes here but was 12 bytes where the driver read it`.
 */
export function changedFileError(name: string, what: string): DataParseError {
  return new DataParseError(
    `${name} ${what}: give every machine the same file, or ship the rows (mlscale train --ship-rows)`,
  );
}

/**
 * Reads a stream whole into one buffer of its own.
 *
 * @param stream - The bytes.
 * @param length - The expected length, when known: the buffer is allocated once.
 */
export async function collectBytes(
  stream: AsyncIterable<Uint8Array>,
  length?: number,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const part of stream) {
    parts.push(part);
    total += part.length;
  }
  const out = new Uint8Array(length !== undefined && length === total ? length : total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A file on a local (or mounted) file system. */
export class LocalFile implements DataFile {
  readonly name: string;
  readonly location: string;
  readonly ranged = true;
  readonly local = true;

  /** @param path - The file's path, also its name in messages. */
  constructor(path: string) {
    this.name = path;
    this.location = path;
  }

  async open(range?: ByteRange, expect?: FileVersion): Promise<Readable> {
    await this.#check(expect);
    // 1 MiB reads: the scan runs at memory speed, and 64 kB reads would cost a syscall each.
    const highWaterMark = 1 << 20;
    if (range === undefined) return createReadStream(this.name, { highWaterMark });
    return createReadStream(
      this.name,
      range.end === undefined
        ? { start: range.start, highWaterMark }
        : { start: range.start, end: range.end - 1, highWaterMark },
    );
  }

  async read(range: Required<ByteRange>, expect?: FileVersion): Promise<Uint8Array> {
    if (!isMainThread) return this.#readBlocking(range, expect);
    const out = new Uint8Array(Math.max(0, range.end - range.start));
    let handle;
    try {
      handle = await open(this.name, 'r');
      this.#checkOpened(await handle.stat(), expect);
      let at = 0;
      while (at < out.length) {
        const { bytesRead } = await handle.read(out, at, out.length - at, range.start + at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      if (at < out.length) throw this.#shortRead(range);
    } catch (err) {
      throw toReadError(err, this.name);
    } finally {
      await handle?.close();
    }
    return out;
  }

  /**
   * The same read with blocking calls, in a worker thread: the worker has nothing else to do while
   * its batch's bytes arrive, and the trips to libuv's pool of the async read (then stat, stat,
   * open, read, close) left each worker idle ~7% of the first pass.
   */
  #readBlocking(range: Required<ByteRange>, expect: FileVersion | undefined): Uint8Array {
    const out = new Uint8Array(Math.max(0, range.end - range.start));
    let fd: number | undefined;
    try {
      fd = openSync(this.name, 'r');
      this.#checkOpened(fstatSync(fd), expect);
      let at = 0;
      while (at < out.length) {
        const bytesRead = readSync(fd, out, at, out.length - at, range.start + at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      if (at < out.length) throw this.#shortRead(range);
    } catch (err) {
      throw toReadError(err, this.name);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    return out;
  }

  /** The file is a file, and of the size the driver saw (when it said). */
  #checkOpened(info: Stats, expect: FileVersion | undefined): void {
    if (info.isDirectory())
      throw new DataNotFoundError(`${this.name} is a directory, not a data file`);
    if (expect !== undefined && info.size !== expect.size)
      throw changedFileError(
        this.name,
        `is ${info.size} bytes here but was ${expect.size} bytes where the driver read it`,
      );
  }

  #shortRead(range: Required<ByteRange>): DataParseError {
    return changedFileError(
      this.name,
      `ends before byte ${range.end}, where the driver read a record`,
    );
  }

  async version(): Promise<FileVersion> {
    try {
      const info = await stat(this.name);
      return { size: info.size, modified: info.mtimeMs };
    } catch (err) {
      throw toReadError(err, this.name);
    }
  }

  async #check(expect: FileVersion | undefined): Promise<void> {
    let info: Stats;
    try {
      info = await stat(this.name);
    } catch (err) {
      throw toReadError(err, this.name);
    }
    this.#checkOpened(info, expect);
  }

  readError(err: unknown): unknown {
    return toReadError(err, this.name);
  }
}
