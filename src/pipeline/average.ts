/**
 * The synchronisation step of data-parallel training: the round's per-batch weights (and optimiser
 * moments) averaged, weighted by the rows each batch trained on. Accumulates in float64 in
 * batch-id order, so the result is the same on every executor.
 *
 * @module
 */

/** Weighted average of same-shaped Float32Array lists. Returns `fallback` when all weights are 0. */
export function weightedAverage(
  lists: readonly (readonly Float32Array[])[],
  weights: readonly number[],
  fallback: readonly Float32Array[],
): Float32Array[] {
  const total = weights.reduce((a, b) => a + b, 0);
  if (total === 0) return fallback.map((a) => a.slice());
  return fallback.map((shape, p) => {
    const acc = new Float64Array(shape.length);
    for (let t = 0; t < lists.length; t++) {
      const w = weights[t]! / total;
      if (w === 0) continue;
      const src = lists[t]![p]!;
      for (let i = 0; i < acc.length; i++) acc[i]! += w * src[i]!;
    }
    return Float32Array.from(acc);
  });
}
