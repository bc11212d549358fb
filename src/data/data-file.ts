/**
 * Where a CSV or JSON Lines source reads its bytes from: a local file, or an HTTP(S) URL
 * (`http-file.ts`). The readers (`csv-records.ts`, `text-lines.ts`) only ever ask for a stream of
 * bytes, whole or of a byte range, so both kinds parse the same way, with the same errors.
 *
 * @module
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DataParseError } from '../errors.js';
import { assertDataFile, toReadError } from './file-access.js';

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
  return new DataParseError(`${name} ${what}: give every machine the same file, or ship the rows (mlscale train --ship-rows)`);
}

/** A file on a local (or mounted) file system. */
export class LocalFile implements DataFile {
  readonly name: string;
  readonly location: string;

  /** @param path - The file's path, also its name in messages. */
  constructor(path: string) {
    this.name = path;
    this.location = path;
  }

  async open(range?: ByteRange, expect?: FileVersion): Promise<Readable> {
    await assertDataFile(this.name);
    if (expect !== undefined) {
      const { size } = await this.version();
      if (size !== expect.size) {
        throw changedFileError(this.name, `is ${size} bytes here but was ${expect.size} bytes where the driver read it`);
      }
    }
    if (range === undefined) return createReadStream(this.name);
    return createReadStream(this.name, range.end === undefined ? { start: range.start } : { start: range.start, end: range.end - 1 });
  }

  async version(): Promise<FileVersion> {
    try {
      return { size: (await stat(this.name)).size };
    } catch (err) {
      throw toReadError(err, this.name);
    }
  }

  readError(err: unknown): unknown {
    return toReadError(err, this.name);
  }
}
