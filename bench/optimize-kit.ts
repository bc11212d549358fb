/**
 * Pieces of `bench:optimize`: the FP32 MLP written in float16 end to end (the whole-graph FP16
 * form `mlscale optimize --fp16` does not write, measured here to say why), the INT8 formulations
 * side by side, and a serving comparison of two models under the same load.
 */
import { performance } from 'node:perf_hooks';
import ort from 'onnxruntime-node';
import { toHalfBits } from '../src/model/optimize/convert-fp16.js';
import {
  DataType,
  constantInitializers,
  decodeModel,
  encodeModel,
  float16Tensor,
  floatValues,
  intAttribute,
  newModel,
  tensorValueInfo,
  toNumber,
} from '../src/model/optimize/onnx-model.js';
import { measureSpeeds, median } from '../src/model/optimize/measure-speed.js';
import { OnnxGraph } from '../src/model/onnx-graph.js';
import { Prng } from '../src/model/prng.js';
import { configureLoad, inferBody, measure, startMlscale, stop, type Load } from './serve-kit.js';

/**
 * The model computed in float16: every float initializer stored as float16, the float input cast
 * to float16 first and the float outputs cast back, every Cast to float retargeted to float16.
 * Fits mlscale's export MLPs (Where/IsNaN/Sub/Div/Gemm/Relu/Softmax/ArgMax), which is all the
 * benchmark asks of it.
 */
export function wholeGraphFp16(bytes: Uint8Array): Uint8Array {
  const model = decodeModel(bytes, 'fp32');
  const g = model.graph!;
  const constants = constantInitializers(model);
  g.initializer = (g.initializer ?? []).map((t) =>
    t.dataType === DataType.FLOAT && constants.has(t.name ?? '')
      ? float16Tensor(
          t.name!,
          Uint16Array.from(floatValues(t), toHalfBits),
          (t.dims ?? []).map(toNumber),
        )
      : t,
  );
  for (const n of g.node ?? []) {
    for (const a of n.attribute ?? [])
      if (n.opType === 'Cast' && a.name === 'to' && Number(a.i) === DataType.FLOAT)
        a.i = DataType.FLOAT16;
  }
  const casts: typeof g.node = [];
  for (const input of g.input ?? []) {
    if (input.type?.tensorType?.elemType !== DataType.FLOAT) continue;
    const half = `${input.name}_fp16`;
    for (const n of g.node ?? [])
      n.input = (n.input ?? []).map((i) => (i === input.name ? half : i));
    casts.push({
      name: `${half}_cast`,
      opType: 'Cast',
      input: [input.name!],
      output: [half],
      attribute: [intAttribute('to', DataType.FLOAT16)],
    });
  }
  const tail: typeof g.node = [];
  for (const output of g.output ?? []) {
    if (output.type?.tensorType?.elemType !== DataType.FLOAT) continue;
    const half = `${output.name}_fp16`;
    for (const n of g.node ?? []) {
      n.output = (n.output ?? []).map((o) => (o === output.name ? half : o));
      n.input = (n.input ?? []).map((i) => (i === output.name ? half : i));
    }
    tail.push({
      name: `${output.name}_cast`,
      opType: 'Cast',
      input: [half],
      output: [output.name!],
      attribute: [intAttribute('to', DataType.FLOAT)],
    });
  }
  g.node = [...casts, ...(g.node ?? []), ...tail];
  return encodeModel(model);
}

/** One Gemm layer y = x·W + b of K × N random weights, input `x` [N, K]. */
export function gemmLayerBytes(k: number, n: number): Uint8Array {
  const rng = new Prng(k * 7919 + n);
  const g = new OnnxGraph('layer');
  const x = g.input('x', 'float', ['N', k]);
  const w = Float32Array.from(
    { length: k * n },
    () => (2 * rng.nextFloat() - 1) * Math.sqrt(6 / (k + n)),
  );
  g.op(
    'Gemm',
    [x, g.floatConstant('W', w, [k, n]), g.floatConstant('b', new Float32Array(n), [n])],
    {},
    'y',
  );
  g.output('y', 'float', ['N', n]);
  return g.toBytes();
}

/**
 * The integer kernel's own ceiling on this CPU: a bare MatMulInteger (uint8 input already
 * quantised, int8 weights) against a bare float MatMul of the same K × N, one thread, so no
 * activation quantisation, scaling, bias or fusion is counted. INT8 over FP32 for a whole model
 * cannot beat this ratio by much.
 */
export async function kernelCeiling(
  k: number,
  n: number,
  batchSizes: readonly number[],
  repeats: number,
  blockMs: number,
): Promise<Map<string, { batch: number; rowsPerS: number; ratio: number }[]>> {
  const weights = (int: boolean) =>
    int
      ? {
          name: 'w',
          dims: [k, n],
          dataType: DataType.INT8,
          rawData: new Uint8Array(
            Int8Array.from({ length: k * n }, (_, i) => ((i * 7919) % 127) - 63).buffer,
          ),
        }
      : floatWeights(k, n);
  const build = (int: boolean) =>
    newModel({
      name: int ? 'matmul_integer' : 'matmul',
      node: [
        {
          opType: int ? 'MatMulInteger' : 'MatMul',
          input: int ? ['a', 'w', 'az'] : ['a', 'w'],
          output: ['y'],
        },
      ],
      initializer: int
        ? [
            weights(true),
            { name: 'az', dims: [], dataType: DataType.UINT8, rawData: new Uint8Array([3]) },
          ]
        : [weights(false)],
      input: [tensorValueInfo('a', int ? DataType.UINT8 : DataType.FLOAT, ['M', k])],
      output: [tensorValueInfo('y', int ? DataType.INT32 : DataType.FLOAT, ['M', n])],
    });
  const options = {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential' as const,
    graphOptimizationLevel: 'all' as const,
  };
  const sessions = [
    await ort.InferenceSession.create(build(false), options),
    await ort.InferenceSession.create(build(true), options),
  ];
  const feeds = (int: boolean, b: number) => ({
    a: int
      ? new ort.Tensor(
          'uint8',
          Uint8Array.from({ length: b * k }, (_, i) => i % 251),
          [b, k],
        )
      : new ort.Tensor(
          'float32',
          Float32Array.from({ length: b * k }, (_, i) => (i % 251) / 100),
          [b, k],
        ),
  });
  // measureSpeeds hands every model the same feeds; each of these runs its own, of its own type.
  const cache = new Map<string, Record<string, ort.Tensor>>();
  const own = (int: boolean, b: number) =>
    cache.get(`${int}/${b}`) ?? cache.set(`${int}/${b}`, feeds(int, b)).get(`${int}/${b}`)!;
  const models = [false, true].map((int, i) => ({
    name: int ? 'MatMulInteger u8 × s8' : 'MatMul fp32',
    session: {
      run: (f: Record<string, ort.Tensor>) => sessions[i]!.run(own(int, f.a!.dims[0]!)),
    } as unknown as ort.InferenceSession,
  }));
  const table = await measureSpeeds(
    models,
    (b) => ({ a: new ort.Tensor('float32', new Float32Array(b), [b, 1]) }),
    { batchSizes, repeats, blockMs },
  );
  for (const s of sessions) await s.release();
  return table;
}

function floatWeights(k: number, n: number) {
  return {
    name: 'w',
    dims: [k, n],
    dataType: DataType.FLOAT,
    rawData: new Uint8Array(
      Float32Array.from({ length: k * n }, (_, i) => (((i * 7919) % 127) - 63) / 100).buffer,
    ),
  };
}

/** Largest |a − b| of two sessions' output `name` on the same feeds. */
export async function maxDiff(
  a: ort.InferenceSession,
  b: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
  name: string,
): Promise<number> {
  const x = (await a.run(feeds))[name]!.data as Float32Array;
  const y = (await b.run(feeds))[name]!.data as Float32Array;
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

/** `mlscale serve` rows/s of two models of one repository under the same closed-loop load, alternated. */
export async function serveComparison(
  repo: string,
  models: readonly [string, string],
  width: number,
  repeats: number,
  seconds: number,
): Promise<{ rates: [number[], number[]]; ratio: number; last: [Load, Load] }> {
  configureLoad({ connections: 64, duration: seconds });
  const { url, child } = await startMlscale(repo, []);
  const rates: [number[], number[]] = [[], []];
  let last: [Load, Load] | undefined;
  try {
    const body = inferBody(width);
    for (let r = 0; r < repeats; r++) {
      const a = await measure(`${url}/v2/models/${models[0]}/infer`, body);
      const b = await measure(`${url}/v2/models/${models[1]}/infer`, body);
      rates[0].push(a.rps);
      rates[1].push(b.rps);
      last = [a, b];
    }
  } finally {
    await stop(child);
  }
  return { rates, ratio: median(rates[1].map((x, i) => x / rates[0][i]!)), last: last! };
}

/** Wall time of a function, in seconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const t = performance.now();
  const value = await fn();
  return { value, seconds: (performance.now() - t) / 1000 };
}
