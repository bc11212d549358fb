/**
 * The per-second time series of a load run (`mlscale load --timeseries FILE`), written while it
 * runs, one row a second, so that a long run can be watched (`tail -f`) and a killed one keeps what
 * it measured: JSON Lines, or CSV when the file name ends in `.csv`.
 *
 * @module
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { InvalidOptionError } from '../errors.js';
import type { LoadInterval } from './load-result.js';

/** The columns, in order (CSV header and JSON key order). */
export const kTimeseriesColumns: readonly (keyof LoadInterval)[] = [
  'second',
  't',
  'measured',
  'offered',
  'offeredRate',
  'sent',
  'ok',
  'errors',
  'okRate',
  'inflight',
  'p50Ms',
  'p90Ms',
  'p99Ms',
  'maxMs',
];

/** Writes rows to a file as they come; `close()` at the end. */
export class TimeseriesWriter {
  readonly #fd: number;
  readonly #csv: boolean;

  /** Creates (or empties) `path`; an `InvalidOptionError` naming `flag` when it cannot. */
  constructor(
    readonly path: string,
    flag = '--timeseries',
  ) {
    this.#csv = path.toLowerCase().endsWith('.csv');
    try {
      this.#fd = openSync(path, 'w');
    } catch (err) {
      throw new InvalidOptionError(
        `${flag} ${path}: cannot write the file: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (this.#csv) writeSync(this.#fd, kTimeseriesColumns.join(',') + '\n');
  }

  write(row: LoadInterval): void {
    const line = this.#csv
      ? kTimeseriesColumns.map((k) => (row[k] === null ? '' : String(row[k]))).join(',')
      : JSON.stringify(Object.fromEntries(kTimeseriesColumns.map((k) => [k, row[k]])));
    writeSync(this.#fd, line + '\n');
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/** Reads a time series file back (JSON Lines or CSV, by its name), for the report. */
export function readTimeseries(path: string): LoadInterval[] {
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  if (!path.toLowerCase().endsWith('.csv')) return lines.map((l) => JSON.parse(l) as LoadInterval);
  const header = lines.shift()?.split(',') ?? [];
  return lines.map((line) => {
    const cells = line.split(',');
    const row: Record<string, unknown> = {};
    header.forEach((k, i) => {
      const c = cells[i] ?? '';
      row[k] = c === '' ? null : c === 'true' ? true : c === 'false' ? false : Number(c);
    });
    return row as unknown as LoadInterval;
  });
}
