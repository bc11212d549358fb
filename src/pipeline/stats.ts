/**
 * The preprocessing fit as a map-reduce over batches: `fitBatchStats` runs per batch (map, on any
 * executor), `mergeBatchStats` folds them in batch-id order (reduce), and `finalizePreprocessing`
 * turns the totals into the `PreprocessingSpec` that training and the exported model share.
 *
 * Statistics are fitted on training rows only, so nothing leaks from the held-out rows; class
 * names are gathered from all rows, so a class seen only in held-out rows still has an output.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { RawBatch, Schema } from '../data/types.js';
import type { PreprocessingSpec } from '../model/spec.js';
import {
  emptyMoments,
  mergeMoments,
  momentsOf,
  standardDeviation,
  type Moments,
} from './moments.js';
import { heldOutMask, type SplitConfig } from './split-config.js';

/** `[value, count]` pairs; arrays rather than Maps so they cross thread and process boundaries. */
export type Counts = [string, number][];

/** Statistics of one batch, or of several merged. */
export interface BatchStats {
  /** Batches merged into this (1 for a single batch). */
  readonly batches: number;
  readonly rows: number;
  readonly trainRows: number;
  readonly heldOutRows: number;
  readonly skippedRows: number;
  /** Moments of numeric columns over training rows (NaN = missing, not counted). */
  readonly numeric: Moments;
  /** Missing values per numeric column, training rows. */
  readonly missing: Float64Array;
  /** Per categorical column, category counts over training rows (pruned, see `maxTracked`). */
  readonly categories: Counts[];
  /** Classification: class counts over all rows. */
  readonly classes: Counts;
  /** Regression: moments of the target over training rows. */
  readonly target: Moments;
  /** SHA-256 over the batches' content, chained in batch-id order. */
  readonly fingerprint: string;
}

/** Map step: statistics of one raw batch. */
export function fitBatchStats(batch: RawBatch, schema: Schema, split: SplitConfig): BatchStats {
  const mask = heldOutMask(batch, split);
  const isTrain = (r: number) => mask[r] === 0;
  let heldOutRows = 0;
  for (let r = 0; r < batch.rowCount; r++) heldOutRows += mask[r]!;
  const numCols = schema.numeric.length;
  const missing = new Float64Array(numCols);
  for (let r = 0; r < batch.rowCount; r++) {
    if (!isTrain(r)) continue;
    for (let c = 0; c < numCols; c++)
      if (Number.isNaN(batch.numeric[r * numCols + c]!)) missing[c]!++;
  }
  const catCols = schema.categorical.length;
  const categories: Counts[] = [];
  for (let c = 0; c < catCols; c++) {
    const counts = new Map<string, number>();
    for (let r = 0; r < batch.rowCount; r++) {
      const code = batch.catCodes[r * catCols + c]!;
      if (!isTrain(r) || code < 0) continue;
      const value = batch.catDict[code]!;
      counts.set(value, (counts.get(value) ?? 0) + 1);
    }
    categories.push([...counts]);
  }
  let classes: Counts = [];
  let target = emptyMoments(1);
  if (batch.labels.kind === 'categorical') {
    const counts = new Map<string, number>();
    const { codes, dict } = batch.labels;
    for (let r = 0; r < batch.rowCount; r++) {
      const value = dict[codes[r]!]!;
      counts.set(value, (counts.get(value) ?? 0) + 1);
    }
    classes = [...counts];
  } else {
    target = momentsOf(batch.labels.values, batch.rowCount, 1, isTrain);
  }
  return {
    batches: 1,
    rows: batch.rowCount,
    trainRows: batch.rowCount - heldOutRows,
    heldOutRows,
    skippedRows: batch.skippedRows,
    numeric: momentsOf(batch.numeric, batch.rowCount, numCols, isTrain),
    missing,
    categories,
    classes,
    target,
    fingerprint: batchFingerprint(batch),
  };
}

/**
 * A content hash of one batch: its values, categories and labels. Codes and their dictionaries
 * are hashed rather than each row's text: a batch's dictionaries follow the order of first
 * appearance, so the same rows always give the same codes (and one update per array instead of
 * one per value keeps this off the fit pass's profile).
 */
export function batchFingerprint(batch: RawBatch): string {
  const h = createHash('sha256');
  const bytes = (a: Float32Array | Int32Array) =>
    new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  h.update(bytes(batch.numeric));
  h.update(bytes(batch.catCodes));
  h.update(JSON.stringify(batch.catDict));
  if (batch.labels.kind === 'numeric') h.update(bytes(batch.labels.values));
  else {
    h.update(bytes(batch.labels.codes));
    h.update(JSON.stringify(batch.labels.dict));
  }
  return h.digest('hex');
}

/**
 * Keeps a category table bounded when a column has very many distinct values (an id column):
 * past `maxTracked` entries, only the most frequent half is kept. Ties break by value, so the
 * result is deterministic. Frequent categories survive; rare ones would be cut by the cap anyway.
 */
function mergeCounts(a: Counts, b: Counts, maxTracked: number): Counts {
  const map = new Map<string, number>(a);
  for (const [value, n] of b) map.set(value, (map.get(value) ?? 0) + n);
  const merged = [...map];
  if (merged.length <= maxTracked) return merged;
  return sortCounts(merged).slice(0, Math.ceil(maxTracked / 2));
}

/** Most frequent first; ties by value. */
function sortCounts(counts: Counts): Counts {
  return [...counts].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
}

/** Reduce step: the statistics of `a`'s rows followed by `b`'s. */
export function mergeBatchStats(a: BatchStats, b: BatchStats, maxTracked: number): BatchStats {
  return {
    batches: a.batches + b.batches,
    rows: a.rows + b.rows,
    trainRows: a.trainRows + b.trainRows,
    heldOutRows: a.heldOutRows + b.heldOutRows,
    skippedRows: a.skippedRows + b.skippedRows,
    numeric: mergeMoments(a.numeric, b.numeric),
    missing: a.missing.map((v, i) => v + b.missing[i]!),
    categories: a.categories.map((counts, i) => mergeCounts(counts, b.categories[i]!, maxTracked)),
    classes: mergeCounts(a.classes, b.classes, Number.MAX_SAFE_INTEGER),
    target: mergeMoments(a.target, b.target),
    fingerprint: createHash('sha256').update(a.fingerprint).update(b.fingerprint).digest('hex'),
  };
}

/** Orders class names: numerically when they all look like numbers ('2' before '10'), else as text. */
export function sortClassNames(names: string[]): string[] {
  const numeric = names.every((n) => n.trim() !== '' && Number.isFinite(Number(n)));
  return [...names].sort((x, y) => (numeric ? Number(x) - Number(y) : x < y ? -1 : x > y ? 1 : 0));
}

/** Options for turning statistics into preprocessing. */
export interface FinalizeOptions {
  /** Most categories kept per categorical column; the rest map to an all-zero one-hot block. */
  readonly maxCategories: number;
}

/** The fitted preprocessing: imputation means, scales, vocabularies, classes or target scale. */
export function finalizePreprocessing(
  stats: BatchStats,
  schema: Schema,
  options: FinalizeOptions,
): PreprocessingSpec {
  const std = standardDeviation(stats.numeric);
  const pre: PreprocessingSpec = {
    numeric: {
      names: [...schema.numeric],
      mean: Float32Array.from(stats.numeric.mean),
      // A constant column would divide by zero; scaling by 1 leaves it at 0 after centring.
      std: Float32Array.from(std, (s) => (s > 0 && Number.isFinite(s) ? s : 1)),
    },
    categorical: {
      names: [...schema.categorical],
      vocab: stats.categories.map((counts) =>
        sortCounts(counts)
          .slice(0, options.maxCategories)
          .map(([value]) => value)
          .sort(),
      ),
    },
  };
  if (schema.task === 'classification') {
    return { ...pre, classes: sortClassNames(stats.classes.map(([name]) => name)) };
  }
  const targetStd = standardDeviation(stats.target)[0]!;
  return {
    ...pre,
    target: { mean: stats.target.mean[0]!, std: targetStd > 0 ? targetStd : 1 },
  };
}

/** Width of the preprocessed feature vector. */
export function featureWidth(pre: PreprocessingSpec): number {
  return pre.numeric.names.length + pre.categorical.vocab.reduce((n, v) => n + v.length, 0);
}
