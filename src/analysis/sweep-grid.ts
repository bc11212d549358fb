/**
 * Sweep grids: comma-separated lists of values (`--replicas 1,2,4`), checked once at the edge —
 * not empty, numbers, within range, no duplicates — and their cartesian product.
 *
 * @module
 */
import { InvalidOptionError } from '../errors.js';

/** What a list's values must be. */
export interface GridListRule {
  readonly min: number;
  readonly max: number;
  /** Whole numbers only (default true). */
  readonly integer?: boolean;
  /** Words allowed beside numbers, e.g. `auto`. */
  readonly words?: readonly string[];
}

/**
 * Parses a grid list flag. `flag` names it in messages (`--replicas`).
 *
 * @throws InvalidOptionError for an empty list or entry, a non-number, a value out of range or a
 *   duplicate, naming the flag, what was expected and the entry given.
 * @example
 * parseGridList('--replicas', '1,2,4', { min: 1, max: 64 }); // [1, 2, 4]
 */
export function parseGridList(
  flag: string,
  value: string | readonly (number | string)[],
  rule: GridListRule,
): (number | string)[] {
  const parts =
    typeof value === 'string'
      ? value.split(',').map((p) => p.trim())
      : value.map((p) => (typeof p === 'number' ? p : p.trim()));
  const integer = rule.integer ?? true;
  const expected = `${integer ? 'integers' : 'numbers'} from ${rule.min} to ${rule.max}${rule.words?.length ? ` or ${rule.words.map((w) => `"${w}"`).join(', ')}` : ''}, comma-separated`;
  if (parts.length === 0 || (parts.length === 1 && parts[0] === '')) {
    throw new InvalidOptionError(`${flag} must list ${expected}, got an empty list`);
  }
  const out: (number | string)[] = [];
  const seen = new Set<number | string>();
  for (const part of parts) {
    let v: number | string;
    if (typeof part === 'string' && rule.words?.includes(part)) v = part;
    else {
      const n = typeof part === 'number' ? part : part === '' ? NaN : Number(part);
      if (
        !Number.isFinite(n) ||
        (integer && !Number.isInteger(n)) ||
        n < rule.min ||
        n > rule.max
      ) {
        throw new InvalidOptionError(
          `${flag} must list ${expected}, got ${JSON.stringify(part)} in ${JSON.stringify(typeof value === 'string' ? value : value.join(','))}`,
        );
      }
      v = n;
    }
    if (seen.has(v))
      throw new InvalidOptionError(
        `${flag} lists ${JSON.stringify(v)} twice in ${JSON.stringify(typeof value === 'string' ? value : value.join(','))}; each value once`,
      );
    seen.add(v);
    out.push(v);
  }
  return out;
}

/** {@link parseGridList} for lists of numbers only. */
export function parseNumberList(
  flag: string,
  value: string | readonly number[],
  rule: Omit<GridListRule, 'words'>,
): number[] {
  return parseGridList(flag, value, rule) as number[];
}

/**
 * The cartesian product of named lists, the first name varying slowest.
 *
 * @example
 * cartesian({ a: [1, 2], b: ['x'] }); // [{ a: 1, b: 'x' }, { a: 2, b: 'x' }]
 */
export function cartesian<T extends Record<string, readonly unknown[]>>(
  lists: T,
): { [K in keyof T]: T[K][number] }[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(lists)) {
    const next: Record<string, unknown>[] = [];
    for (const partial of out) for (const v of values) next.push({ ...partial, [key]: v });
    out = next;
  }
  return out as { [K in keyof T]: T[K][number] }[];
}
