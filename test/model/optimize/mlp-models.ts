/**
 * Hand-built ONNX models for the optimisation tests: MLPs written with Gemm, with MatMul + Add,
 * single layers with Gemm's attributes, and graphs with nothing to quantise — none of them
 * mlscale's export graph, so the passes are tested on "foreign" models.
 *
 * @module
 */
import ort from 'onnxruntime-node';
import { OnnxGraph } from '../../../src/model/onnx-graph.js';
import { Prng } from '../../../src/model/prng.js';

/** Glorot-uniform weights [K, N] and small biases, seeded. */
export function layerWeights(
  rng: Prng,
  k: number,
  n: number,
): { w: Float32Array; b: Float32Array } {
  const limit = Math.sqrt(6 / (k + n));
  const w = Float32Array.from({ length: k * n }, () => (2 * rng.nextFloat() - 1) * limit);
  const b = Float32Array.from({ length: n }, () => (rng.nextFloat() - 0.5) * 0.2);
  return { w, b };
}

/** An MLP of Gemm + Relu layers, input `x` [N, sizes[0]], output `y` (softmax when `softmax`). */
export function gemmMlp(sizes: readonly number[], seed = 1, softmax = false): Uint8Array {
  const rng = new Prng(seed);
  const g = new OnnxGraph('gemm_mlp');
  let h = g.input('x', 'float', ['N', sizes[0]!]);
  for (let l = 0; l + 1 < sizes.length; l++) {
    const { w, b } = layerWeights(rng, sizes[l]!, sizes[l + 1]!);
    const last = l + 2 === sizes.length;
    const z = g.op(
      'Gemm',
      [
        h,
        g.floatConstant(`W${l}`, w, [sizes[l]!, sizes[l + 1]!]),
        g.floatConstant(`B${l}`, b, [sizes[l + 1]!]),
      ],
      {},
      last && !softmax ? 'y' : undefined,
    );
    h = last ? (softmax ? g.op('Softmax', [z], { axis: { int: 1 } }, 'y') : z) : g.op('Relu', [z]);
  }
  g.output('y', 'float', ['N', sizes[sizes.length - 1]!]);
  return g.toBytes();
}

/** The same kind of MLP written as MatMul + Add + Relu, as PyTorch's exporter writes Linear layers. */
export function matmulMlp(sizes: readonly number[], seed = 2): Uint8Array {
  const rng = new Prng(seed);
  const g = new OnnxGraph('matmul_mlp');
  let h = g.input('x', 'float', ['N', sizes[0]!]);
  for (let l = 0; l + 1 < sizes.length; l++) {
    const { w, b } = layerWeights(rng, sizes[l]!, sizes[l + 1]!);
    const last = l + 2 === sizes.length;
    const mm = g.op('MatMul', [h, g.floatConstant(`weight_${l}`, w, [sizes[l]!, sizes[l + 1]!])]);
    const z = g.op(
      'Add',
      [mm, g.floatConstant(`bias_${l}`, b, [sizes[l + 1]!])],
      {},
      last ? 'y' : undefined,
    );
    h = last ? z : g.op('Relu', [z]);
  }
  g.output('y', 'float', ['N', sizes[sizes.length - 1]!]);
  return g.toBytes();
}

/**
 * One Gemm with every attribute in play: W stored transposed ([N, K], transB = 1), alpha and
 * beta not 1, and a bias C of shape [1, N].
 */
export function gemmLayer(
  k: number,
  n: number,
  seed = 3,
): { bytes: Uint8Array; w: Float32Array; c: Float32Array; alpha: number; beta: number } {
  const rng = new Prng(seed);
  const wt = Float32Array.from({ length: n * k }, () => (2 * rng.nextFloat() - 1) * 0.2);
  const c = Float32Array.from({ length: n }, () => rng.nextFloat() - 0.5);
  const alpha = 0.75;
  const beta = 1.5;
  const g = new OnnxGraph('gemm_layer');
  const x = g.input('x', 'float', ['N', k]);
  g.op(
    'Gemm',
    [x, g.floatConstant('Wt', wt, [n, k]), g.floatConstant('C', c, [1, n])],
    { transB: { int: 1 }, alpha: { float: alpha }, beta: { float: beta } },
    'y',
  );
  g.output('y', 'float', ['N', n]);
  // The same weights laid out [K, N], for the reference computation.
  const w = new Float32Array(k * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) w[j * n + i] = wt[i * k + j]!;
  return { bytes: g.toBytes(), w, c, alpha, beta };
}

/** A tiny model with no MatMul or Gemm: y = Relu(x) * 2. */
export function noMatmulModel(): Uint8Array {
  const g = new OnnxGraph('no_matmul');
  const x = g.input('x', 'float', ['N', 4]);
  g.op('Mul', [g.op('Relu', [x]), g.floatConstant('two', new Float32Array([2]), [])], {}, 'y');
  g.output('y', 'float', ['N', 4]);
  return g.toBytes();
}

/** A MatMul whose weights are a second graph input (not constant): nothing to quantise. */
export function inputWeightsModel(): Uint8Array {
  const g = new OnnxGraph('input_weights');
  const x = g.input('x', 'float', ['N', 8]);
  const w = g.input('w', 'float', [8, 8]);
  g.op('MatMul', [x, w], {}, 'y');
  g.output('y', 'float', ['N', 8]);
  return g.toBytes();
}

/** Random normal rows [rows, k]. */
export function randomRows(rows: number, k: number, seed = 9): Float32Array {
  const rng = new Prng(seed);
  return Float32Array.from({ length: rows * k }, () => rng.normal());
}

/** Runs a model once on `x` with the given graph optimisation level; returns output `y`. */
export async function runY(
  bytes: Uint8Array,
  x: Float32Array,
  k: number,
  level: 'disabled' | 'all' = 'all',
): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: level,
    intraOpNumThreads: 1,
    logSeverityLevel: 3,
  });
  try {
    const out = await session.run({ x: new ort.Tensor('float32', x, [x.length / k, k]) });
    return out.y!.data as Float32Array;
  } finally {
    await session.release();
  }
}
