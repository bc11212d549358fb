/**
 * Linear regression by its normal equations, as a map-reduce: each batch sums `[X 1]ᵀ[X 1]` and
 * `[X 1]ᵀy` over its (preprocessed) rows, the driver adds the sums in batch-id order and solves
 * `(G + αI)w = b` by Cholesky. One pass over the data gives the exact ridge solution, where
 * gradient steps only approach it (and early stopping on a few hundred rows stops them short of
 * it); Spark MLlib's `WeightedLeastSquares` solver does the same.
 *
 * The penalty is scikit-learn's `Ridge` default, α = 1, on standardised features; the intercept
 * is not penalised. (Choosing α on a validation slice of a few hundred rows was measured to pick
 * worse penalties than this default on such tables: the slice's error is mostly noise there.)
 * The validation slice's own sums give its squared error in closed form, which is what the
 * automatic model choice compares with the MLP's; the final solve uses every training row. Used
 * for `model: 'linear'` (or the linear candidate of `model: 'auto'`) on regression with
 * `epochs: 'auto'`, when the preprocessed width is at most {@link kMaxGramWidth}.
 *
 * @module
 */

/** Widest feature vector solved exactly: the Gram matrix has (width + 1)² entries. */
export const kMaxGramWidth = 2048;

/** The ridge penalty (scikit-learn's default), on standardised features. */
export const kRidgeAlpha = 1;

/** Sums over a set of rows: the upper triangle of `[X 1]ᵀ[X 1]` (row-major, full square), `[X 1]ᵀy`, `yᵀy`, rows. */
export interface GramSums {
  /** D × D, D = width + 1; only i ≤ j is filled. */
  readonly gram: Float64Array;
  readonly xy: Float64Array;
  readonly yy: number;
  readonly rows: number;
}

/** Empty sums for `width` features. */
export function emptyGram(width: number): GramSums {
  const d = width + 1;
  return { gram: new Float64Array(d * d), xy: new Float64Array(d), yy: 0, rows: 0 };
}

/**
 * Sums of `rows` rows of `x` (rows × width, row-major) and targets `y`.
 * Zero features (most of a one-hot block) are skipped.
 */
export function gramOf(x: Float32Array, y: Float32Array, rows: number, width: number): GramSums {
  const sums = emptyGram(width);
  const d = width + 1;
  const { gram, xy } = sums;
  const row = new Float64Array(d);
  let yy = 0;
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < width; i++) row[i] = x[r * width + i]!;
    row[width] = 1;
    const t = y[r]!;
    yy += t * t;
    for (let i = 0; i < d; i++) {
      const xi = row[i]!;
      if (xi === 0) continue;
      xy[i]! += xi * t;
      const base = i * d;
      for (let j = i; j < d; j++) gram[base + j]! += xi * row[j]!;
    }
  }
  return { gram, xy, yy, rows };
}

/** `a + b`, in that order (the driver folds in batch-id order, so the sum is the same everywhere). */
export function addGram(a: GramSums, b: GramSums): GramSums {
  return {
    gram: a.gram.map((v, i) => v + b.gram[i]!),
    xy: a.xy.map((v, i) => v + b.xy[i]!),
    yy: a.yy + b.yy,
    rows: a.rows + b.rows,
  };
}

/**
 * Solves `(G + αI')w = b` (I' without the intercept's entry) by Cholesky, with a jitter of 1e-9 ×
 * the mean diagonal so a rank-deficient G (a constant or duplicated column) still solves.
 *
 * @returns w: the width weights, then the intercept.
 */
export function solveRidge(sums: GramSums, alpha: number): Float64Array {
  const d = sums.xy.length;
  const a = new Float64Array(d * d);
  let trace = 0;
  for (let i = 0; i < d; i++) trace += sums.gram[i * d + i]!;
  const jitter = 1e-9 * (trace / d) + 1e-12;
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) a[i * d + j] = a[j * d + i] = sums.gram[i * d + j]!;
    a[i * d + i]! += jitter + (i < d - 1 ? alpha : 0);
  }
  // Cholesky a = L Lᵀ, L stored in the lower triangle of a.
  for (let j = 0; j < d; j++) {
    let s = a[j * d + j]!;
    for (let k = 0; k < j; k++) s -= a[j * d + k]! * a[j * d + k]!;
    const diag = Math.sqrt(Math.max(s, 1e-300));
    a[j * d + j] = diag;
    for (let i = j + 1; i < d; i++) {
      let t = a[i * d + j]!;
      for (let k = 0; k < j; k++) t -= a[i * d + k]! * a[j * d + k]!;
      a[i * d + j] = t / diag;
    }
  }
  const z = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let t = sums.xy[i]!;
    for (let k = 0; k < i; k++) t -= a[i * d + k]! * z[k]!;
    z[i] = t / a[i * d + i]!;
  }
  const w = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let t = z[i]!;
    for (let k = i + 1; k < d; k++) t -= a[k * d + i]! * w[k]!;
    w[i] = t / a[i * d + i]!;
  }
  return w;
}

/** Mean squared error of `w` on the rows summed in `sums`: (yᵀy − 2wᵀXᵀy + wᵀXᵀXw) / n. */
export function ridgeMse(sums: GramSums, w: Float64Array): number {
  const d = w.length;
  let quad = 0;
  for (let i = 0; i < d; i++) {
    let gi = 0;
    for (let j = 0; j < d; j++)
      gi += (i <= j ? sums.gram[i * d + j]! : sums.gram[j * d + i]!) * w[j]!;
    quad += w[i]! * gi;
  }
  let cross = 0;
  for (let i = 0; i < d; i++) cross += w[i]! * sums.xy[i]!;
  return sums.rows > 0 ? Math.max(0, sums.yy - 2 * cross + quad) / sums.rows : NaN;
}

/** The validation error and the weights of the final solve. */
export interface RidgeFit {
  readonly alpha: number;
  /** Validation MSE (standardised target) of the solve on the training rows alone; NaN without validation rows. */
  readonly validationMse: number;
  /** `[W0 (width × 1), b0 (1)]`, the linear model's parameters, solved on every row. */
  readonly params: Float32Array[];
  /** The same, solved on the training rows alone. */
  readonly trainParams: Float32Array[];
}

/** Scores the training rows' solve on the validation sums, then solves on train + validation. */
export function fitRidge(train: GramSums, validation: GramSums, alpha = kRidgeAlpha): RidgeFit {
  const trainOnly = solveRidge(train, alpha);
  const validationMse = validation.rows > 0 ? ridgeMse(validation, trainOnly) : NaN;
  const w = validation.rows > 0 ? solveRidge(addGram(train, validation), alpha) : trainOnly;
  return { alpha, validationMse, params: asParams(w), trainParams: asParams(trainOnly) };
}

/** Weights then intercept, as the linear model's `[W0, b0]`. */
function asParams(w: Float64Array): Float32Array[] {
  const width = w.length - 1;
  return [Float32Array.from(w.subarray(0, width)), Float32Array.of(w[width]!)];
}
