/**
 * The evaluate stage: per-batch sufficient statistics of the held-out rows, merged exactly, and the
 * metrics computed from the merged totals: accuracy, macro-F1 and log-loss for classification;
 * RMSE and R² for regression.
 *
 * @module
 */
import { emptyMoments, mergeMoments, momentsOf, type Moments } from './moments.js';
import type { PreparedRows } from './preprocess.js';

/** Sufficient statistics of a set of held-out rows. */
export type EvalStats =
  | {
      readonly kind: 'classification';
      readonly rows: number;
      /** classes × classes counts, row = true class, column = predicted class. */
      readonly confusion: Float64Array;
      /** Sum over rows of -log p(true class), p clipped to [1e-15, 1] as scikit-learn does. */
      readonly logLossSum: number;
    }
  | {
      readonly kind: 'regression';
      readonly rows: number;
      /** Sum of squared errors, in the target's own units. */
      readonly sse: number;
      /** Moments of the true target, for R². */
      readonly target: Moments;
    };

/** Statistics for classification rows given the model's probabilities (rows × classes). */
export function classificationStats(
  rows: PreparedRows,
  probabilities: Float32Array,
  classes: number,
): EvalStats {
  const confusion = new Float64Array(classes * classes);
  const truth = rows.target as Int32Array;
  let logLossSum = 0;
  for (let r = 0; r < rows.rows; r++) {
    const base = r * classes;
    let best = 0;
    for (let k = 1; k < classes; k++)
      if (probabilities[base + k]! > probabilities[base + best]!) best = k;
    const t = truth[r]!;
    confusion[t * classes + best]!++;
    const p = Math.min(1, Math.max(1e-15, probabilities[base + t]!));
    logLossSum -= Math.log(p);
  }
  return { kind: 'classification', rows: rows.rows, confusion, logLossSum };
}

/** Statistics for regression rows given predictions already in the target's units. */
export function regressionStats(rows: PreparedRows, predictions: Float32Array): EvalStats {
  const truth = rows.target as Float32Array;
  let sse = 0;
  for (let r = 0; r < rows.rows; r++) {
    const e = predictions[r]! - truth[r]!;
    sse += e * e;
  }
  return { kind: 'regression', rows: rows.rows, sse, target: momentsOf(truth, rows.rows, 1) };
}

/** Statistics of no rows, to start a fold. */
export function emptyEvalStats(task: 'classification' | 'regression', classes: number): EvalStats {
  return task === 'classification'
    ? {
        kind: 'classification',
        rows: 0,
        confusion: new Float64Array(classes * classes),
        logLossSum: 0,
      }
    : { kind: 'regression', rows: 0, sse: 0, target: emptyMoments(1) };
}

/** Merges statistics; counts merge exactly, sums in call order (the pipeline folds by batch id). */
export function mergeEvalStats(a: EvalStats, b: EvalStats): EvalStats {
  if (a.kind === 'classification' && b.kind === 'classification') {
    return {
      kind: 'classification',
      rows: a.rows + b.rows,
      confusion: a.confusion.map((v, i) => v + b.confusion[i]!),
      logLossSum: a.logLossSum + b.logLossSum,
    };
  }
  if (a.kind === 'regression' && b.kind === 'regression') {
    return {
      kind: 'regression',
      rows: a.rows + b.rows,
      sse: a.sse + b.sse,
      target: mergeMoments(a.target, b.target),
    };
  }
  throw new TypeError('cannot merge classification and regression statistics');
}

/** Held-out metrics. */
export type Metrics =
  | {
      readonly task: 'classification';
      readonly rows: number;
      readonly accuracy: number;
      readonly macroF1: number;
      readonly logLoss: number;
    }
  | {
      readonly task: 'regression';
      readonly rows: number;
      readonly rmse: number;
      readonly r2: number;
    };

/**
 * Metrics from merged statistics. Macro-F1 averages over the classes that occur in the truth or
 * the predictions, as scikit-learn's `f1_score(average='macro')` does.
 */
export function computeMetrics(stats: EvalStats): Metrics {
  if (stats.kind === 'regression') {
    const n = stats.rows;
    const ssTot = stats.target.m2[0]!;
    return {
      task: 'regression',
      rows: n,
      rmse: n > 0 ? Math.sqrt(stats.sse / n) : NaN,
      r2: ssTot > 0 ? 1 - stats.sse / ssTot : NaN,
    };
  }
  const k = Math.round(Math.sqrt(stats.confusion.length));
  let correct = 0;
  let f1Sum = 0;
  let present = 0;
  for (let c = 0; c < k; c++) {
    const tp = stats.confusion[c * k + c]!;
    correct += tp;
    let actual = 0;
    let predicted = 0;
    for (let j = 0; j < k; j++) {
      actual += stats.confusion[c * k + j]!;
      predicted += stats.confusion[j * k + c]!;
    }
    if (actual === 0 && predicted === 0) continue;
    present++;
    f1Sum += actual + predicted > 0 ? (2 * tp) / (actual + predicted) : 0;
  }
  const n = stats.rows;
  return {
    task: 'classification',
    rows: n,
    accuracy: n > 0 ? correct / n : NaN,
    macroF1: present > 0 ? f1Sum / present : NaN,
    logLoss: n > 0 ? stats.logLossSum / n : NaN,
  };
}
