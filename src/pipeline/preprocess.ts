/**
 * The preprocess stage: raw batch → model-ready rows. Imputes missing numbers with the training
 * mean, standardises, one-hot encodes categories, and encodes the labels; the exported ONNX graph
 * does exactly the same, so a served model takes raw rows.
 *
 * @module
 */
import type { RawBatch } from '../data/types.js';
import type { PreprocessingSpec } from '../model/spec.js';
import { RowSet, rowSets, type SplitConfig } from './split-config.js';
import { featureWidth } from './stats.js';

/**
 * Which rows of a batch to prepare: training rows (less the validation slice), held-out rows, the
 * slice (its first half when it is halved), or the slice's second half.
 */
export type RowChoice = 'train' | 'heldOut' | 'validation' | 'comparison';

/** Model-ready rows. */
export interface PreparedRows {
  readonly rows: number;
  /** rows × featureWidth, row-major. */
  readonly x: Float32Array;
  /** rows × outputs: one-hot classes, or the standardised target (regression). */
  readonly y: Float32Array;
  /** Class index per row (classification), or the target in its own units (regression). */
  readonly target: Int32Array | Float32Array;
}

/**
 * Prepares the `which` rows of `batch`. Labels outside the known classes cannot occur (classes are
 * gathered from every row), so every prepared row has a target.
 */
export function prepareRows(
  batch: RawBatch,
  pre: PreprocessingSpec,
  split: SplitConfig,
  which: RowChoice,
): PreparedRows {
  const mask = rowSets(batch, split);
  const wanted =
    which === 'heldOut'
      ? RowSet.HeldOut
      : which === 'validation'
        ? RowSet.Validation
        : which === 'comparison'
          ? RowSet.Comparison
          : RowSet.Train;
  let rows = 0;
  for (let r = 0; r < batch.rowCount; r++) if (mask[r] === wanted) rows++;

  const width = featureWidth(pre);
  const numCols = pre.numeric.names.length;
  const catCols = pre.categorical.names.length;
  const x = new Float32Array(rows * width);

  // Per batch, map each dictionary code to its one-hot offset for each column (-1: not in vocab).
  const catOffsets: Int32Array[] = [];
  let offset = numCols;
  for (let c = 0; c < catCols; c++) {
    const vocab = pre.categorical.vocab[c]!;
    const index = new Map(vocab.map((v, i) => [v, i]));
    catOffsets.push(
      Int32Array.from(batch.catDict, (v) => (index.has(v) ? offset + index.get(v)! : -1)),
    );
    offset += vocab.length;
  }

  const classification = pre.classes !== undefined;
  const outputs = classification ? pre.classes!.length : 1;
  const y = new Float32Array(rows * outputs);
  const target = classification ? new Int32Array(rows) : new Float32Array(rows);
  const classIndex = classification ? classMapping(batch, pre.classes!) : undefined;
  const { mean, std } = pre.numeric;

  let o = 0;
  for (let r = 0; r < batch.rowCount; r++) {
    if (mask[r] !== wanted) continue;
    const xb = o * width;
    for (let c = 0; c < numCols; c++) {
      const v = batch.numeric[r * numCols + c]!;
      // Same float32 arithmetic as the exported graph: Where(IsNaN(x), mean, x), Sub, Div.
      x[xb + c] = Number.isNaN(v) ? 0 : Math.fround(Math.fround(v - mean[c]!) / std[c]!);
    }
    for (let c = 0; c < catCols; c++) {
      const code = batch.catCodes[r * catCols + c]!;
      if (code >= 0) {
        const at = catOffsets[c]![code]!;
        if (at >= 0) x[xb + at] = 1;
      }
    }
    if (classIndex) {
      const labels = batch.labels as Extract<RawBatch['labels'], { kind: 'categorical' }>;
      const k = classIndex[labels.codes[r]!]!;
      target[o] = k;
      y[o * outputs + k] = 1;
    } else {
      const labels = batch.labels as Extract<RawBatch['labels'], { kind: 'numeric' }>;
      const t = labels.values[r]!;
      target[o] = t;
      y[o] = (t - pre.target!.mean) / pre.target!.std;
    }
    o++;
  }
  return { rows, x, y, target };
}

/** Maps a batch's label dictionary to global class indices. */
function classMapping(batch: RawBatch, classes: readonly string[]): Int32Array {
  if (batch.labels.kind !== 'categorical') {
    throw new TypeError('classification needs categorical labels');
  }
  const index = new Map(classes.map((name, i) => [name, i]));
  return Int32Array.from(batch.labels.dict, (name) => index.get(name) ?? -1);
}
