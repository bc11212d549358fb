/**
 * Per-column count, mean and sum of squared deviations, computed per batch and merged exactly with
 * the parallel algorithm of Chan, Golub and LeVeque (1979): merging is associative up to rounding,
 * and the pipeline always merges in batch-id order, so the result does not depend on the executor.
 *
 * @module
 */

/** Moments of `cols` columns, in float64. */
export interface Moments {
  readonly count: Float64Array;
  readonly mean: Float64Array;
  /** Sum of squared deviations from the mean (M2). Variance = m2 / count. */
  readonly m2: Float64Array;
}

/** Moments of zero rows. */
export function emptyMoments(cols: number): Moments {
  return {
    count: new Float64Array(cols),
    mean: new Float64Array(cols),
    m2: new Float64Array(cols),
  };
}

/**
 * Moments of the rows of a row-major matrix for which `include(row)` is true; NaN values are skipped
 * (they are missing, counted elsewhere). Welford's update within the batch.
 */
export function momentsOf(
  values: Float32Array,
  rows: number,
  cols: number,
  include: (row: number) => boolean = () => true,
): Moments {
  const m = emptyMoments(cols);
  for (let r = 0; r < rows; r++) {
    if (!include(r)) continue;
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = values[base + c]!;
      if (Number.isNaN(v)) continue;
      const n = ++m.count[c]!;
      const delta = v - m.mean[c]!;
      m.mean[c]! += delta / n;
      m.m2[c]! += delta * (v - m.mean[c]!);
    }
  }
  return m;
}

/** Merges two sets of moments (Chan et al.): the moments of the union of their rows. */
export function mergeMoments(a: Moments, b: Moments): Moments {
  const cols = a.count.length;
  const out = emptyMoments(cols);
  for (let c = 0; c < cols; c++) {
    const na = a.count[c]!;
    const nb = b.count[c]!;
    const n = na + nb;
    out.count[c] = n;
    if (n === 0) continue;
    const delta = b.mean[c]! - a.mean[c]!;
    out.mean[c] = a.mean[c]! + (delta * nb) / n;
    out.m2[c] = a.m2[c]! + b.m2[c]! + (delta * delta * na * nb) / n;
  }
  return out;
}

/** Population standard deviation of each column (as scikit-learn's StandardScaler uses). */
export function standardDeviation(m: Moments): Float64Array {
  const out = new Float64Array(m.count.length);
  for (let c = 0; c < out.length; c++) {
    const n = m.count[c]!;
    out[c] = n > 0 ? Math.sqrt(m.m2[c]! / n) : 0;
  }
  return out;
}
