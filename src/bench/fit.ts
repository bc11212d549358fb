/**
 * Fits used by the benchmarks and the scaling analysis.
 *
 * @module
 */

/** A fitted line y = a + b·x with its coefficient of determination. */
export interface LinearFit {
  readonly a: number;
  readonly b: number;
  readonly r2: number;
}

/** Ordinary least squares of y on x. Needs at least two distinct x values. */
export function linearFit(x: readonly number[], y: readonly number[]): LinearFit {
  if (x.length !== y.length || x.length < 2) throw new RangeError('linearFit needs two or more (x, y) pairs of equal count');
  const n = x.length;
  const mx = x.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (x[i]! - mx) ** 2;
    sxy += (x[i]! - mx) * (y[i]! - my);
    syy += (y[i]! - my) ** 2;
  }
  if (sxx === 0) throw new RangeError('linearFit needs at least two distinct x values');
  const b = sxy / sxx;
  const a = my - b * mx;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (y[i]! - (a + b * x[i]!)) ** 2;
  return { a, b, r2: syy > 0 ? 1 - sse / syy : 1 };
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const s = [...values].sort((p, q) => p - q);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
