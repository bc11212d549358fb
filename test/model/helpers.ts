/**
 * Shared fixtures for the model tests: specs, random data, and running a graph once.
 *
 * @module
 */
import ort from 'onnxruntime-node';
import { createSession } from '../../src/model/session.js';
import { Prng } from '../../src/model/prng.js';
import type { ModelSpec } from '../../src/model/spec.js';

/** A small spec; `hidden` is ignored by the linear family. */
export function smallSpec(
  family: ModelSpec['family'],
  task: ModelSpec['task'],
  activation: ModelSpec['activation'] = 'relu',
  hidden: number[] = [5, 4],
): ModelSpec {
  return {
    family,
    task,
    inputs: 4,
    outputs: task === 'classification' ? 3 : 1,
    hidden: family === 'mlp' ? hidden : [],
    activation,
  };
}

/** Uniform random values in [-scale, scale). */
export function randomArray(rng: Prng, length: number, scale = 1): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = (2 * rng.nextFloat() - 1) * scale;
  return out;
}

/** Targets for `rows` rows: one-hot random classes, or random standardised values. */
export function randomTargets(rng: Prng, spec: ModelSpec, rows: number): Float32Array {
  if (spec.task === 'regression') return randomArray(rng, rows, 1.5);
  const y = new Float32Array(rows * spec.outputs);
  for (let r = 0; r < rows; r++) y[r * spec.outputs + rng.nextInt(spec.outputs)] = 1;
  return y;
}

/** Loads `bytes` in a fresh session and runs it once. */
export async function runOnce(
  bytes: Uint8Array,
  feeds: Record<string, ort.Tensor>,
): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await createSession(bytes);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/** Feeds for x, optionally y, and the parameters by name. */
export function feedsFor(
  spec: ModelSpec,
  shapes: readonly { name: string; shape: readonly number[] }[],
  params: readonly Float32Array[],
  x: Float32Array,
  rows: number,
  y?: Float32Array,
): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {
    x: new ort.Tensor('float32', x, [rows, spec.inputs]),
  };
  if (y !== undefined) feeds['y'] = new ort.Tensor('float32', y, [rows, spec.outputs]);
  shapes.forEach((p, i) => {
    feeds[p.name] = new ort.Tensor('float32', params[i]!, p.shape);
  });
  return feeds;
}

/** Asserts |actual - expected| <= atol + rtol * |expected| elementwise, naming the first offender. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol: number,
  rtol: number,
  what: string,
): void {
  if (actual.length !== expected.length)
    throw new Error(`${what}: length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      throw new Error(`${what}[${i}]: got ${a}, expected ${e} (atol ${atol}, rtol ${rtol})`);
    }
  }
}
