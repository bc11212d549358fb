/**
 * A small MLP in ONNX for the instance and batcher tests, and a direct onnxruntime session to
 * compare against.
 *
 * @module
 */
import ort from 'onnxruntime-node';
import { buildExportGraph } from '../../../src/model/export-graph.js';
import { initParameters } from '../../../src/model/parameters.js';
import { Prng } from '../../../src/model/prng.js';
import type { ModelSpec, PreprocessingSpec } from '../../../src/model/spec.js';
import type { InferenceWork, Tensor } from '../../../src/serve/types.js';

/** Input width of the fixture model. */
export const kFeatures = 8;

/** A 8-32-32-3 relu MLP classifier: input `x` FP32 [N, 8]; outputs `probabilities` FP32 [N, 3], `label` INT64 [N]. */
export function smallModelBytes(seed = 7): Uint8Array {
  const spec: ModelSpec = {
    family: 'mlp',
    task: 'classification',
    inputs: kFeatures,
    outputs: 3,
    hidden: [32, 32],
    activation: 'relu',
  };
  const names = Array.from({ length: kFeatures }, (_, i) => `f${i}`);
  const pre: PreprocessingSpec = {
    numeric: { names, mean: new Float32Array(kFeatures), std: new Float32Array(kFeatures).fill(1) },
    categorical: { names: [], vocab: [] },
    classes: ['a', 'b', 'c'],
  };
  return buildExportGraph(spec, initParameters(spec, seed), pre);
}

/** `rows` random rows of the fixture's input. */
export function randomInput(rng: Prng, rows: number): Float32Array {
  const x = new Float32Array(rows * kFeatures);
  for (let i = 0; i < x.length; i++) x[i] = (2 * rng.nextFloat() - 1) * 3;
  return x;
}

/** An inference request for the fixture model; the data is copied, so the caller's array survives a transfer. */
export function workFor(
  x: Float32Array,
  outputs: readonly string[] = ['probabilities', 'label'],
): InferenceWork {
  const rows = x.length / kFeatures;
  return {
    inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, kFeatures], data: x.slice() }],
    outputs,
    rows,
  };
}

/** Runs `x` alone through a fresh single-threaded session, as the reference for bit-for-bit checks. */
export async function directRun(
  bytes: Uint8Array,
  xs: readonly Float32Array[],
): Promise<{ probabilities: Float32Array; label: BigInt64Array }[]> {
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  try {
    const out = [];
    for (const x of xs) {
      const r = await session.run({
        x: new ort.Tensor('float32', x.slice(), [x.length / kFeatures, kFeatures]),
      });
      out.push({
        probabilities: r['probabilities']!.data as Float32Array,
        label: r['label']!.data as BigInt64Array,
      });
    }
    return out;
  } finally {
    await session.release();
  }
}

/** The bytes of a tensor's data, for bit-for-bit comparison (NaN payloads and -0 included). */
export function bytesOf(data: Tensor['data'] | Float32Array | BigInt64Array): Buffer {
  if (Array.isArray(data)) return Buffer.from(JSON.stringify(data));
  const typed = data as Float32Array;
  return Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
}
