/**
 * How closely a variant's outputs follow the original's on the same inputs, when there is no
 * labelled data to measure accuracy: the share of rows whose top-1 class is unchanged, and the
 * largest absolute difference of the main output.
 *
 * The top-1 match rate bounds the accuracy drop: a row whose predicted class did not change is
 * right or wrong for both models alike, so accuracy can fall by at most the share of rows whose
 * class changed. That is why `mlscale optimize` holds 1 − top-1 to the same limit as an accuracy
 * drop measured on data.
 *
 * @module
 */
import type ort from 'onnxruntime-node';
import { sliceFeeds, type Feeds } from './model-inputs.js';

/** The agreement of one variant with the original. */
export interface Agreement {
  readonly kind: 'agreement';
  readonly rows: number;
  /** The output compared: the first float32 output. */
  readonly output: string;
  /** Share of rows (0..1) with the same top-1 class; absent for outputs that have no classes. */
  readonly top1?: number;
  readonly maxAbsDiff: number;
  /** Largest |value| of the original's output, to read maxAbsDiff against. */
  readonly maxAbs: number;
  /** Where the inputs came from, in words. */
  readonly inputs: string;
}

/** The first float32 output of a session, which the comparison reads. */
export function primaryOutput(session: ort.InferenceSession): string | undefined {
  return session.outputMetadata.find((m) => m.isTensor && m.type === 'float32')?.name;
}

/** Runs a session over all rows of `feeds` in chunks; the named output's values, concatenated, and its row width. */
export async function runRows(
  session: ort.InferenceSession,
  feeds: Feeds,
  rows: number,
  output: string,
  chunk: number,
): Promise<{ values: Float32Array | BigInt64Array; width: number }> {
  const parts: (Float32Array | BigInt64Array)[] = [];
  let width = 1;
  for (let from = 0; from < rows; from += chunk) {
    const to = Math.min(rows, from + chunk);
    const out = (await session.run(sliceFeeds(feeds, from, to), [output]))[output]!;
    width = out.dims.length > 1 ? out.size / out.dims[0]! : 1;
    parts.push(out.data as Float32Array | BigInt64Array);
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const values =
    parts[0] instanceof BigInt64Array ? new BigInt64Array(total) : new Float32Array(total);
  let at = 0;
  for (const p of parts) {
    (values as Float32Array).set(p as Float32Array, at);
    at += p.length;
  }
  return { values, width };
}

/** Index of the largest value in each row of a [rows, width] matrix. */
export function argmaxRows(values: Float32Array, width: number): Int32Array {
  const rows = values.length / width;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < width; c++)
      if (values[r * width + c]! > values[r * width + best]!) best = c;
    out[r] = best;
  }
  return out;
}

/**
 * Compares a variant's outputs with the original's on the same inputs.
 * @param inputs Where the inputs came from, in words, for the report.
 */
export async function compareOutputs(
  original: ort.InferenceSession,
  variant: ort.InferenceSession,
  feeds: Feeds,
  rows: number,
  inputs: string,
  chunk = 256,
): Promise<Agreement> {
  const output = primaryOutput(original);
  if (output === undefined) throw new RangeError('the model has no float32 output to compare');
  const a = await runRows(original, feeds, rows, output, chunk);
  const b = await runRows(variant, feeds, rows, output, chunk);
  const x = a.values as Float32Array;
  const y = b.values as Float32Array;
  let maxAbsDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    // NaN where the original is finite is the worst disagreement there is.
    if (Number.isNaN(d) ? !Number.isNaN(x[i]!) : d > maxAbsDiff)
      maxAbsDiff = Number.isNaN(d) ? Infinity : d;
    maxAbs = Math.max(maxAbs, Math.abs(x[i]!));
  }
  let top1: number | undefined;
  if (a.width > 1) {
    const p = argmaxRows(x, a.width);
    const q = argmaxRows(y, b.width);
    let same = 0;
    for (let r = 0; r < p.length; r++) if (p[r] === q[r]) same++;
    top1 = p.length > 0 ? same / p.length : 1;
  }
  return {
    kind: 'agreement',
    rows,
    output,
    ...(top1 !== undefined ? { top1 } : {}),
    maxAbsDiff,
    maxAbs,
    inputs,
  };
}
