/**
 * An example stages module for `mlscale train --stages examples/stages/sqrt-counts.js`.
 *
 * Plain JavaScript on purpose: a stages module is what a user writes, and every executor imports
 * it by path — inline, in worker threads, or in worker processes on other machines.
 *
 * - preprocess: a square-root transform of non-negative numeric features (counts and intensities
 *   such as the digits' pixel values), which evens out their variance. Deterministic, same shape.
 * - evaluate + aggregate: extra held-out metrics beside the built-in ones — top-2 accuracy for
 *   classification, mean absolute error for regression.
 */

/** @param {import('../../dist/src/data/types.js').RawBatch} batch */
export function preprocess(batch) {
  const numeric = batch.numeric.map((v) => (v >= 0 ? Math.sqrt(v) : v));
  return { ...batch, numeric };
}

/** Per-batch counts; they are summed by `aggregate` in batch-id order. */
export function evaluate({ rows, target, output, preprocessing }) {
  if (preprocessing.classes) {
    const k = preprocessing.classes.length;
    let top2 = 0;
    for (let r = 0; r < rows; r++) {
      const p = output.subarray(r * k, (r + 1) * k);
      const truth = p[target[r]];
      let higher = 0;
      for (let c = 0; c < k; c++) if (p[c] > truth) higher++;
      if (higher < 2) top2++;
    }
    return { rows, top2 };
  }
  let absolute = 0;
  for (let r = 0; r < rows; r++) absolute += Math.abs(output[r] - target[r]);
  return { rows, absolute };
}

/** Folds the per-batch counts into named metrics. */
export function aggregate(parts) {
  const rows = parts.reduce((n, p) => n + p.rows, 0);
  if (parts.some((p) => 'top2' in p)) {
    return { top2Accuracy: parts.reduce((n, p) => n + p.top2, 0) / rows };
  }
  return { meanAbsoluteError: parts.reduce((n, p) => n + p.absolute, 0) / rows };
}
