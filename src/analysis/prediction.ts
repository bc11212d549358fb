/**
 * Predictions with their uncertainty. A prediction the advisor makes (throughput at the next
 * worker or replica count, at a larger batch, on more machines) comes from a fit of a few
 * measured points; each is stated with an interval that the fit's parameter uncertainty gives:
 *
 * - from the measurements' own noise: every point is taken to be known to ±kMeasurementNoise
 *   (the points are medians of repeats; single runs here vary by 10–30%, BENCHMARKS.md), and the
 *   parameter is refitted at the extremes that noise allows;
 * - from the fit's residuals, when there are more points than parameters: ±2 standard errors.
 *
 * The interval is the wider of the two, so a two-point fit (no residuals) still says how far
 * its prediction can be trusted.
 *
 * @module
 */
import { amdahlFit, amdahlSpeedup } from './fit.js';
import { num, pct } from './format.js';

/** Relative uncertainty of one measured point (a median of repeats). */
export const kMeasurementNoise = 0.05;

/**
 * Relative error of the pipeline's phase model (pipeline-model.ts) beyond its input's noise: what
 * it missed against measurement on simulated hosts (BENCHMARKS.md, "Predictions against
 * measurement").
 */
export const kModelError = 0.1;

/** A predicted value with its interval. */
export interface Prediction {
  /** What is predicted, in words (e.g. 'rows/s with 2 workers'). */
  readonly what: string;
  readonly value: number;
  readonly low: number;
  readonly high: number;
  readonly unit: string;
  /** The fit and parameter the prediction comes from, with its uncertainty, in words. */
  readonly basis: string;
}

/** "1,840 rows/s (1,650–2,010)". */
export function predictionText(p: Prediction): string {
  return `${num(p.value)} ${p.unit} (${num(p.low)}–${num(p.high)})`;
}

/** Relative error of a measurement against its prediction, signed: (measured − predicted)/predicted. */
export function predictionError(p: Pick<Prediction, 'value'>, measured: number): number {
  return (measured - p.value) / p.value;
}

/** Amdahl's serial fraction with its interval. */
export interface SerialFraction {
  readonly s: number;
  readonly low: number;
  readonly high: number;
}

/**
 * Fits Amdahl's serial fraction to (n, x) — needs N = 1 and another N — with its interval: the
 * fits at the noise extremes (base point high and the others low gives the largest s, and the
 * reverse the smallest), widened to ±2 standard errors of the linearised regression when there
 * are residuals to estimate them from.
 */
export function serialFractionInterval(
  n: readonly number[],
  x: readonly number[],
  noise = kMeasurementNoise,
): SerialFraction {
  const fit = amdahlFit(n, x);
  const base = n.indexOf(1);
  const perturb = (up: number) =>
    amdahlFit(
      n,
      x.map((v, i) => (i === base ? v * (1 + up * noise) : v * (1 - up * noise))),
    ).serialFraction;
  let low = Math.min(perturb(1), perturb(-1));
  let high = Math.max(perturb(1), perturb(-1));
  // Residual standard error of v = s·u (through the origin), u = 1 − 1/N, v = x1/x − 1/N.
  const us = n.map((v) => 1 - 1 / v);
  const vs = n.map((v, i) => fit.x1 / x[i]! - 1 / v);
  const used = us.filter((u) => u > 0).length;
  if (used >= 2) {
    let sse = 0;
    let suu = 0;
    for (let i = 0; i < n.length; i++) {
      sse += (vs[i]! - fit.serialFraction * us[i]!) ** 2;
      suu += us[i]! ** 2;
    }
    const se = Math.sqrt(sse / (used - 1) / suu);
    low = Math.min(low, fit.serialFraction - 2 * se);
    high = Math.max(high, fit.serialFraction + 2 * se);
  }
  const clip = (v: number) => Math.min(1, Math.max(0, v));
  return { s: fit.serialFraction, low: clip(low), high: clip(high) };
}

/**
 * Throughput at `target` N predicted by Amdahl from the series (n, x), with the interval of the
 * serial fraction (a larger s predicts less). `what` and `unit` name it.
 */
export function predictAmdahl(
  n: readonly number[],
  x: readonly number[],
  target: number,
  what: string,
  unit: string,
): Prediction {
  const sf = serialFractionInterval(n, x);
  const x1 = x[n.indexOf(1)]!;
  const at = (s: number) => x1 * amdahlSpeedup(s, target);
  return {
    what,
    value: at(sf.s),
    low: at(sf.high) * (1 - kMeasurementNoise),
    high: at(sf.low) * (1 + kMeasurementNoise),
    unit,
    basis: `Amdahl's serial fraction s = ${sf.s.toFixed(3)} (${sf.low.toFixed(3)}–${sf.high.toFixed(3)} within ±${pct(kMeasurementNoise)} per point${n.length > 2 ? ' or ±2 standard errors' : ''}) over ${n.join(', ')}`,
  };
}

/**
 * A measured value scaled by a factor that is itself a model's prediction (e.g. machines × the
 * per-machine rate): the measurement's noise carried through, and a factor range if given.
 */
export function predictScaled(
  measured: number,
  factor: number,
  what: string,
  unit: string,
  basis: string,
  factorRange: readonly [number, number] = [factor, factor],
): Prediction {
  return {
    what,
    value: measured * factor,
    low: measured * factorRange[0] * (1 - kMeasurementNoise),
    high: measured * factorRange[1] * (1 + kMeasurementNoise),
    unit,
    basis,
  };
}

/**
 * Throughput on `machines` machines behind a load balancer from one machine's measurement: they
 * share nothing (each its own cores; the balancer only forwards), so machines × the one measured,
 * with that measurement's noise. `npm run bench:hosts -- --only serve` checks it on simulated hosts.
 */
export function predictMachines(
  measured: number,
  machines: number,
  what: string,
  unit: string,
): Prediction {
  return predictScaled(
    measured,
    machines,
    what,
    unit,
    `machines behind a load balancer share nothing: ${machines} × the one measured`,
  );
}

/** A model's predicted value, with its input's noise and the model's own error as the interval. */
export function predictFromModel(
  value: number,
  what: string,
  unit: string,
  basis: string,
  modelError = kModelError,
): Prediction {
  const spread = kMeasurementNoise + modelError;
  return { what, value, low: value * (1 - spread), high: value * (1 + spread), unit, basis };
}
