/**
 * Fits used by the benchmarks and the scaling analysis.
 *
 * @module
 */
import { levenbergMarquardt } from 'ml-levenberg-marquardt';

/** A fitted line y = a + b·x with its coefficient of determination. */
export interface LinearFit {
  readonly a: number;
  readonly b: number;
  readonly r2: number;
}

/** Ordinary least squares of y on x. Needs at least two distinct x values. */
export function linearFit(x: readonly number[], y: readonly number[]): LinearFit {
  if (x.length !== y.length || x.length < 2)
    throw new RangeError('linearFit needs two or more (x, y) pairs of equal count');
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

/** The q-quantile (0 ≤ q ≤ 1) of a non-empty list, interpolated between order statistics. */
export function sampleQuantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new RangeError('quantile of no values');
  const s = [...values].sort((p, r) => p - r);
  const at = Math.min(1, Math.max(0, q)) * (s.length - 1);
  const lo = Math.floor(at);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (at - lo);
}

/** A linear fit with what it leaves unexplained: the largest residual relative to its point. */
export interface LinearityCheck extends LinearFit {
  /** max |y − ŷ| / y over the points (0 = exactly linear). */
  readonly maxRelativeResidual: number;
  /** x of that point. */
  readonly worstX: number;
  /** True when R² ≥ 0.98 and no point is more than 15% off the line: the O(n) claim holds. */
  readonly linear: boolean;
}

/** Fits y = a + b·x and says whether the points depart from the line (see LinearityCheck.linear). */
export function linearityCheck(x: readonly number[], y: readonly number[]): LinearityCheck {
  const fit = linearFit(x, y);
  let worst = 0;
  let worstX = x[0]!;
  for (let i = 0; i < x.length; i++) {
    const r = Math.abs(y[i]! - (fit.a + fit.b * x[i]!)) / Math.abs(y[i]! || 1);
    if (r > worst) {
      worst = r;
      worstX = x[i]!;
    }
  }
  return { ...fit, maxRelativeResidual: worst, worstX, linear: fit.r2 >= 0.98 && worst <= 0.15 };
}

/** Amdahl's law fitted to measured throughput: speedup S(N) = 1 / (s + (1 − s)/N). */
export interface AmdahlFit {
  /** Serial fraction s in [0, 1]. */
  readonly serialFraction: number;
  /** Throughput at N = 1, the base of the speedups. */
  readonly x1: number;
  /** The ceiling of the speedup, 1/s (Infinity when s = 0). */
  readonly maxSpeedup: number;
  readonly r2: number;
}

/** Amdahl's speedup at N for serial fraction s. */
export function amdahlSpeedup(s: number, n: number): number {
  return 1 / (s + (1 - s) / n);
}

/**
 * Fits Amdahl's serial fraction to throughput x at concurrency n (workers, replicas). Needs a point at
 * N = 1 (the base) and one more. Least squares on the linearised form 1/S − 1/N = s·(1 − 1/N),
 * which is exact when the points follow the law.
 */
export function amdahlFit(n: readonly number[], x: readonly number[]): AmdahlFit {
  checkSeries('amdahlFit', n, x);
  const i1 = n.indexOf(1);
  if (i1 < 0)
    throw new RangeError('amdahlFit needs a measurement at N = 1 (the base of the speedup)');
  if (new Set(n).size < 2) throw new RangeError('amdahlFit needs at least two distinct N');
  const x1 = x[i1]!;
  let suv = 0;
  let suu = 0;
  for (let i = 0; i < n.length; i++) {
    const u = 1 - 1 / n[i]!;
    const v = x1 / x[i]! - 1 / n[i]!;
    suv += u * v;
    suu += u * u;
  }
  const s = Math.min(1, Math.max(0, suu > 0 ? suv / suu : 0));
  const predicted = n.map((v) => x1 * amdahlSpeedup(s, v));
  return {
    serialFraction: s,
    x1,
    maxSpeedup: s > 0 ? 1 / s : Infinity,
    r2: rSquared(x, predicted),
  };
}

/** The Universal Scalability Law fitted to throughput: X(N) = λN / (1 + σ(N−1) + κN(N−1)). */
export interface UslFit {
  /** Throughput of one unit without contention (≈ X(1)), in the unit of the data. */
  readonly lambda: number;
  /** Contention (serial fraction), ≥ 0. */
  readonly sigma: number;
  /** Coherency (crosstalk) cost, ≥ 0: makes throughput fall beyond the peak. */
  readonly kappa: number;
  readonly r2: number;
  /** N* = sqrt((1 − σ)/κ): the concurrency of peak throughput; Infinity when κ = 0 (no peak). */
  readonly peakN: number;
  /** X(N*), or λ/σ (the asymptote) when there is no peak; Infinity when σ = κ = 0. */
  readonly peakX: number;
  /** Distinct N measured. */
  readonly points: number;
  /**
   * True with 3 or fewer distinct N: three parameters pass through three points whatever the law,
   * so R² says nothing and N* is not a finding.
   */
  readonly underDetermined: boolean;
}

/** The USL's throughput at N. */
export function uslThroughput(fit: Pick<UslFit, 'lambda' | 'sigma' | 'kappa'>, n: number): number {
  return (fit.lambda * n) / (1 + fit.sigma * (n - 1) + fit.kappa * n * (n - 1));
}

/**
 * Fits the USL to throughput x at concurrency n by nonlinear least squares (Levenberg–Marquardt,
 * ml-levenberg-marquardt, analytic Jacobian), with σ, κ ≥ 0 and σ ≤ 1. The data are scaled by
 * their largest value first so that the solver's tolerances mean the same at 10 and 10,000 req/s,
 * and the fit is started from several points and the best kept, as LM finds a local minimum.
 * Needs at least two distinct N.
 */
export function uslFit(n: readonly number[], x: readonly number[]): UslFit {
  checkSeries('uslFit', n, x);
  const distinct = new Set(n).size;
  if (distinct < 2) throw new RangeError('uslFit needs at least two distinct N');
  const scale = Math.max(...x);
  const y = x.map((v) => v / scale);
  const nMin = Math.min(...n);
  const lambda0 = y[n.indexOf(nMin)]! / nMin;
  const model =
    ([l, s, k]: number[]) =>
    (v: number) =>
      (l! * v) / (1 + s! * (v - 1) + k! * v * (v - 1));
  const jacobian =
    ([l, s, k]: number[]) =>
    (v: number) => {
      const d = 1 + s! * (v - 1) + k! * v * (v - 1);
      const f = (l! * v) / (d * d);
      return [v / d, -f * (v - 1), -f * v * (v - 1)];
    };
  let best: { p: number[]; sse: number } | undefined;
  for (const start of [
    [lambda0, 0.05, 0.001],
    [lambda0, 0.3, 0.05],
    [lambda0, 0.01, 0.2],
    [lambda0 * 1.2, 0.5, 0],
  ]) {
    const r = levenbergMarquardt({ x: n, y }, model, {
      initialValues: start,
      minValues: [1e-9, 0, 0],
      maxValues: [Infinity, 1, Infinity],
      jacobianFunction: jacobian,
      maxIterations: 1000,
      errorTolerance: 1e-14,
      damping: 1e-3,
    });
    const sse =
      r.parameterValues.length === 3 ? sumSquares(n, y, model(r.parameterValues)) : Infinity;
    if (Number.isFinite(sse) && (!best || sse < best.sse)) best = { p: r.parameterValues, sse };
  }
  if (!best) throw new RangeError('uslFit: the solver did not converge');
  const [l, sigma, kappa] = best.p as [number, number, number];
  const fit = { lambda: l * scale, sigma, kappa };
  const peakN = kappa > 1e-12 ? Math.sqrt((1 - sigma) / kappa) : Infinity;
  const peakX = Number.isFinite(peakN)
    ? uslThroughput(fit, peakN)
    : sigma > 0
      ? fit.lambda / sigma
      : Infinity;
  return {
    ...fit,
    r2: rSquared(
      x,
      n.map((v) => uslThroughput(fit, v)),
    ),
    peakN,
    peakX,
    points: distinct,
    underDetermined: distinct <= 3,
  };
}

function sumSquares(n: readonly number[], y: readonly number[], f: (v: number) => number): number {
  let s = 0;
  for (let i = 0; i < n.length; i++) s += (y[i]! - f(n[i]!)) ** 2;
  return s;
}

function rSquared(y: readonly number[], predicted: readonly number[]): number {
  const my = y.reduce((s, v) => s + v, 0) / y.length;
  let sse = 0;
  let syy = 0;
  for (let i = 0; i < y.length; i++) {
    sse += (y[i]! - predicted[i]!) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return syy > 0 ? 1 - sse / syy : sse === 0 ? 1 : 0;
}

function checkSeries(name: string, n: readonly number[], x: readonly number[]): void {
  if (n.length !== x.length || n.length === 0)
    throw new RangeError(`${name} needs (N, X) pairs of equal count`);
  for (let i = 0; i < n.length; i++) {
    if (!(n[i]! >= 1) || !Number.isFinite(n[i]!))
      throw new RangeError(`${name}: N must be ≥ 1, got ${n[i]} at index ${i}`);
    if (!(x[i]! > 0) || !Number.isFinite(x[i]!))
      throw new RangeError(`${name}: throughput must be > 0, got ${x[i]} at index ${i}`);
  }
}
