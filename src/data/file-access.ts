/**
 * Turns file-system failures of data files into `DataNotFoundError`s that name the path.
 *
 * @module
 */
import { DataNotFoundError, isMlscaleError } from '../errors.js';

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
