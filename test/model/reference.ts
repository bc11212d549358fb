/**
 * Float64 reference implementations of the model graphs, for checking onnxruntime's results.
 * Deliberately naive: loops that follow the formulas, nothing shared with the graph builders.
 *
 * @module
 */
import { layerSizes } from '../../src/model/parameters.js';
import type { ModelSpec, PreprocessingSpec } from '../../src/model/spec.js';

/** Row-major matrix of doubles. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

/** Logits (last layer, linear) for `rows` rows of `x`. */
export function refLogits(
  spec: ModelSpec,
  params: readonly ArrayLike<number>[],
  x: ArrayLike<number>,
  rows: number,
): Matrix {
  const sizes = layerSizes(spec);
  let a = Float64Array.from(x as ArrayLike<number>).subarray(0, rows * sizes[0]!);
  for (let l = 0; l + 1 < sizes.length; l++) {
    const nIn = sizes[l]!;
    const nOut = sizes[l + 1]!;
    const w = params[2 * l]!;
    const b = params[2 * l + 1]!;
    const z = new Float64Array(rows * nOut);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < nOut; o++) {
        let s = b[o]!;
        for (let i = 0; i < nIn; i++) s += a[r * nIn + i]! * w[i * nOut + o]!;
        const last = l + 2 === sizes.length;
        z[r * nOut + o] = last ? s : spec.activation === 'relu' ? Math.max(0, s) : Math.tanh(s);
      }
    }
    a = z;
  }
  return { rows, cols: spec.outputs, data: a };
}

/** Row-wise softmax. */
export function refSoftmax(m: Matrix): Matrix {
  const out = new Float64Array(m.data.length);
  for (let r = 0; r < m.rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < m.cols; c++) max = Math.max(max, m.data[r * m.cols + c]!);
    let sum = 0;
    for (let c = 0; c < m.cols; c++) sum += Math.exp(m.data[r * m.cols + c]! - max);
    for (let c = 0; c < m.cols; c++)
      out[r * m.cols + c] = Math.exp(m.data[r * m.cols + c]! - max) / sum;
  }
  return { rows: m.rows, cols: m.cols, data: out };
}

/** Training loss: mean softmax cross-entropy, or sum of squared errors / (2N). */
export function refLoss(
  spec: ModelSpec,
  params: readonly ArrayLike<number>[],
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  rows: number,
): number {
  return lossFromOutput(spec, refForwardOutput(spec, params, x, rows).data, y, rows);
}

/** What the forward graph outputs: softmax probabilities, or the raw (standardised) prediction. */
export function refForwardOutput(
  spec: ModelSpec,
  params: readonly ArrayLike<number>[],
  x: ArrayLike<number>,
  rows: number,
): Matrix {
  const logits = refLogits(spec, params, x, rows);
  return spec.task === 'classification' ? refSoftmax(logits) : logits;
}

/** The training loss, recomputed from a forward output (probabilities or predictions). */
export function lossFromOutput(
  spec: ModelSpec,
  output: ArrayLike<number>,
  y: ArrayLike<number>,
  rows: number,
): number {
  let total = 0;
  const k = spec.outputs;
  for (let i = 0; i < rows * k; i++) {
    if (spec.task === 'classification') {
      if (y[i]! !== 0) total -= y[i]! * Math.log(output[i]!);
    } else {
      total += (output[i]! - y[i]!) ** 2 / 2;
    }
  }
  return total / rows;
}

/** Central finite-difference gradient of `refLoss` with respect to every parameter. */
export function refGradients(
  spec: ModelSpec,
  params: readonly Float32Array[],
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  rows: number,
  eps = 1e-6,
): Float64Array[] {
  const p64 = params.map((p) => Float64Array.from(p));
  return p64.map((p) => {
    const grad = new Float64Array(p.length);
    for (let k = 0; k < p.length; k++) {
      const saved = p[k]!;
      p[k] = saved + eps;
      const up = refLoss(spec, p64, x, y, rows);
      p[k] = saved - eps;
      const down = refLoss(spec, p64, x, y, rows);
      p[k] = saved;
      grad[k] = (up - down) / (2 * eps);
    }
    return grad;
  });
}

/** Preprocesses raw rows as the export graph should: impute, standardise, one-hot, concatenate. */
export function refPreprocess(
  pre: PreprocessingSpec,
  numeric: ArrayLike<number>,
  categorical: readonly string[],
  rows: number,
): Float64Array {
  const nNum = pre.numeric.names.length;
  const nCat = pre.categorical.names.length;
  const width = nNum + pre.categorical.vocab.reduce((s, v) => s + v.length, 0);
  const out = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let c = 0;
    for (let j = 0; j < nNum; j++) {
      const raw = numeric[r * nNum + j]!;
      const v = Number.isNaN(raw) ? pre.numeric.mean[j]! : raw;
      out[r * width + c++] = (v - pre.numeric.mean[j]!) / pre.numeric.std[j]!;
    }
    for (let j = 0; j < nCat; j++) {
      for (const word of pre.categorical.vocab[j]!)
        out[r * width + c++] = categorical[r * nCat + j] === word ? 1 : 0;
    }
  }
  return out;
}
