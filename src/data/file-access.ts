/**
 * Turns file-system failures of data files into `DataNotFoundError`s that name the path.
 *
 * @module
 */
import { stat } from 'node:fs/promises';
import { DataNotFoundError, DataParseError, isMlscaleError } from '../errors.js';

/**
 * Checks, before streaming, that a data file exists and is not a directory, so the user gets a
 * clear message instead of a stream error.
 *
 * @param path - The data file.
 * @throws DataNotFoundError naming the path.
 */
export async function assertDataFile(path: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (err) {
    throw toReadError(err, path);
  }
  if (isDirectory) throw new DataNotFoundError(`${path} is a directory, not a data file`);
}

/**
 * Checks that a data file a worker is about to read by byte range has the size it had where the
 * driver read it: another file at the same path would give other rows, or cut records apart.
 *
 * @param path - The data file.
 * @param size - Its size in bytes on the driver.
 * @throws DataNotFoundError when it is missing or unreadable; DataParseError when its size differs.
 */
export async function assertDataFileSize(path: string, size: number): Promise<void> {
  let actual: number;
  try {
    actual = (await stat(path)).size;
  } catch (err) {
    throw toReadError(err, path);
  }
  if (actual !== size) {
    throw new DataParseError(
      `${path} is ${actual} bytes here but was ${size} bytes where the driver read it: ` +
        'give every machine the same file, or ship the rows (mlscale train --ship-rows)',
    );
  }
}

/**
 * Maps an error met while opening or reading a data file. Coded errors pass through unchanged.
 *
 * @param err - What was thrown.
 * @param path - The data file.
 */
export function toReadError(err: unknown, path: string): unknown {
  if (isMlscaleError(err)) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') {
    return new DataNotFoundError(`data file not found: ${path}`, { cause: err });
  }
  if (code === 'EISDIR') {
    return new DataNotFoundError(`${path} is a directory, not a data file`, { cause: err });
  }
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    // Other system errors (EACCES, EIO, ...) mean the file cannot be read either.
    return new DataNotFoundError(`cannot read data file ${path} (${code})`, { cause: err });
  }
  return err;
}
