/**
 * The one duration syntax of the command line (`load --duration`, `advise --target-time`,
 * `sweep --point-duration`, `load --profile`): a number with a unit `ms`, `s`, `m` (or `min`), `h`;
 * a bare number is seconds.
 *
 * @module
 */
import { InvalidOptionError } from '../errors.js';

const kUnitMs: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
};

/** The accepted forms, for error messages. */
export const kDurationForms = '500ms, 30s, 2m, 1.5h or a bare number of seconds';

/** `500ms`, `30s`, `2m`, `2min`, `1.5h` or `2.5` (seconds) as milliseconds; undefined when not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|min|m|h)?\s*$/i.exec(text);
  if (!m) return undefined;
  return Number(m[1]) * kUnitMs[(m[2] ?? 's').toLowerCase()]!;
}

/** Bounds of a duration flag. */
export interface DurationBounds {
  /** Zero is accepted (e.g. no warm-up); otherwise the duration must be above zero. */
  zeroAllowed?: boolean;
  /** The largest accepted duration in ms. */
  maxMs?: number;
}

/**
 * A duration flag's value in ms (undefined when the flag is absent); anything that is not a duration,
 * or out of bounds, is an `InvalidOptionError` naming the flag, the accepted forms and what was given.
 */
export function durationFlag(
  flag: string,
  value: unknown,
  bounds: DurationBounds = {},
): number | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined;
  const ms = parseDurationMs(String(value));
  const limit = bounds.maxMs;
  if (ms === undefined || (!bounds.zeroAllowed && ms <= 0) || (limit !== undefined && ms > limit)) {
    const range = [
      bounds.zeroAllowed ? '' : 'above zero',
      limit !== undefined ? `at most ${formatDurationMs(limit)}` : '',
    ]
      .filter(Boolean)
      .join(' and ');
    throw new InvalidOptionError(
      `${flag} must be a duration such as ${kDurationForms}${range ? `, ${range}` : ''}; got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}

/** A duration in ms written back in its largest whole unit: 86400000 → `24h`, 1500 → `1500ms`. */
export function formatDurationMs(ms: number): string {
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
