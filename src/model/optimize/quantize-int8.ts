/**
 * Dynamic INT8 quantisation of MatMul and Gemm layers with constant weights.
 *
 * Weights: symmetric INT8 per output column (zero point 0, scale = max |w| / 127, or / 63 with a
 * reduced range); activations: quantised at run time by `DynamicQuantizeLinear`, which the ONNX
 * spec defines as asymmetric UINT8 over [min(0, x), max(0, x)]. That is onnxruntime's own
 * `quantize_dynamic` scheme (QUInt8 activations, QInt8 weights, per channel), and it is the u8s8
 * product onnxruntime's CPU kernels are built for.
 *
 * Two formulations are written:
 * - `standard` (default): `DynamicQuantizeLinear → MatMulInteger (per-column b_zero_point) → Cast →
 *   Mul(Mul(x_scale, w_scale)) [→ Add bias]`: ONNX operators only, so any ONNX runtime can run it.
 *   onnxruntime fuses exactly this pattern (MatMulIntegerToFloatFusion, then
 *   DynamicQuantizeMatMulFusion) into its `com.microsoft.DynamicQuantizeMatMul` when it loads the
 *   model, so on onnxruntime it runs the same kernel as the contrib form: measured on this machine
 *   (onnxruntime-node 1.30, AMD EPYC, AVX2), both ran at the same speed within noise, at batch 1
 *   and 64 (docs/optimize.md). Same speed, so the portable form is the default.
 * - `ort`: `com.microsoft.DynamicQuantizeMatMul` directly: for onnxruntime only; it needs no fusion
 *   at load, so it keeps its speed in a session whose graph optimisation is turned off.
 *
 * Layers below `minWeights` weights stay FP32: with few weights, quantising the activations each
 * run costs more than the smaller product saves (measured per layer size in docs/optimize.md).
 *
 * @module
 */
import { NothingToQuantizeError } from '../../errors.js';
import {
  attributeNumber,
  constantInitializers,
  DataType,
  decodeModel,
  encodeModel,
  ensureOpset,
  floatTensor,
  floatValues,
  int8Tensor,
  intAttribute,
  isExternal,
  kOrtDomain,
  namer,
  toNumber,
  valueNames,
  type Node,
  type Tensor,
} from './onnx-model.js';

/** Which operators the quantised layers are written with. */
export type Int8Ops = 'standard' | 'ort';

/** Settings of the INT8 pass. */
export interface Int8Options {
  readonly ops: Int8Ops;
  /** Weights in [-63, 63] instead of [-127, 127]: no u8s8 saturation on CPUs without VNNI. */
  readonly reduceRange: boolean;
  /** A layer with fewer weights (K × N) stays FP32. */
  readonly minWeights: number;
  /** Initializers that must stay FP32 (mlscale's preprocessing constants). */
  readonly keepFp32: (initializer: string) => boolean;
}

/** What the pass did with one MatMul or Gemm. */
export interface LayerReport {
  readonly node: string;
  readonly op: string;
  /** The weight initializer, when the weights are one. */
  readonly weight?: string;
  /** Inner (K) and output (N) sizes of the weight matrix, when known. */
  readonly k?: number;
  readonly n?: number;
  readonly quantized: boolean;
  /** Why the layer stayed FP32. */
  readonly reason?: string;
}

/** The quantised model and the per-layer report. */
export interface Int8Result {
  readonly model: Uint8Array;
  readonly layers: readonly LayerReport[];
  /** Layers quantised. */
  readonly quantized: number;
}

/** A constant weight matrix ready to quantise, laid out [K, N]. */
interface Weights {
  readonly name: string;
  readonly k: number;
  readonly n: number;
  /** Row-major [K, N]. */
  readonly values: Float32Array;
}

/** Quantised weights: int8 [K, N] and a scale per column. */
interface QuantWeights {
  readonly q: string;
  readonly scale: string;
  readonly zeroPoint: string;
}

/**
 * Quantises the model's MatMul and Gemm layers.
 * @param bytes The FP32 model.
 * @param file Names the model in messages.
 * @throws NothingToQuantizeError when no MatMul or Gemm has constant float weights.
 */
export function quantizeInt8(bytes: Uint8Array, file: string, options: Int8Options): Int8Result {
  const model = decodeModel(bytes, file);
  const g = model.graph!;
  const constants = constantInitializers(model);
  const fresh = namer(valueNames(model));
  const layers: LayerReport[] = [];
  const quantizedWeights = new Map<string, QuantWeights>();
  const newInitializers: Tensor[] = [];
  const replaced = new Set<string>();
  const nodes: Node[] = [];
  const qmax = options.reduceRange ? 63 : 127;

  for (const node of g.node ?? []) {
    const op = node.opType ?? '';
    if ((node.domain ?? '') !== '' || (op !== 'MatMul' && op !== 'Gemm')) {
      nodes.push(node);
      continue;
    }
    const name = node.name || node.output?.[0] || op;
    const found = weightsOf(node, constants);
    if (typeof found === 'string') {
      layers.push({ node: name, op, quantized: false, reason: found });
      nodes.push(node);
      continue;
    }
    const { weights, tensor } = found;
    const base = { node: name, op, weight: weights.name, k: weights.k, n: weights.n };
    const skip = (reason: string): void => {
      layers.push({ ...base, quantized: false, reason });
      nodes.push(node);
    };
    if (options.keepFp32(weights.name)) {
      skip('part of the preprocessing subgraph, which stays FP32');
      continue;
    }
    if (weights.k * weights.n < options.minWeights) {
      skip(
        `${weights.k} × ${weights.n} = ${weights.k * weights.n} weights, under the ${options.minWeights} from which quantising pays`,
      );
      continue;
    }
    if (!weights.values.every(Number.isFinite)) {
      skip('the weights hold NaN or infinite values');
      continue;
    }
    const alpha = op === 'Gemm' ? attributeNumber(node, 'alpha', 1) : 1;
    const key = `${weights.name}|${tensor === 'transposed' ? 'T' : 'N'}|${alpha}`;
    let qw = quantizedWeights.get(key);
    if (!qw) {
      qw = addQuantizedWeights(weights, alpha, qmax, fresh, newInitializers);
      quantizedWeights.set(key, qw);
    }
    for (const input of node.input ?? []) replaced.add(input);
    nodes.push(
      ...quantizedLayer(node, qw, weights.n, constants, options.ops, fresh, newInitializers),
    );
    layers.push({ ...base, quantized: true });
  }

  if (layers.length === 0 || layers.every((l) => l.weight === undefined)) {
    throw new NothingToQuantizeError(
      `${file} has nothing to quantise: ${describeGraph(g.node ?? [], layers)}`,
    );
  }
  const quantized = layers.filter((l) => l.quantized).length;
  g.node = nodes;
  // The FP32 weights (and Gemm biases rewritten as [N] vectors) that only quantised layers read
  // go: that is where the file shrinks, and onnxruntime warns of every unused initializer it finds.
  const used = new Set<string>();
  for (const n of nodes) for (const i of n.input ?? []) used.add(i);
  for (const o of g.output ?? []) used.add(o.name ?? '');
  g.initializer = [
    ...(g.initializer ?? []).filter(
      (t) => !(replaced.has(t.name ?? '') && !used.has(t.name ?? '')),
    ),
    ...newInitializers,
  ];
  if (options.ops === 'ort' && quantized > 0) ensureOpset(model, kOrtDomain, 1);
  return { model: encodeModel(model), layers, quantized };
}

/** The node's constant weights as [K, N], or why it has none that can be quantised. */
function weightsOf(
  node: Node,
  constants: Map<string, Tensor>,
): { weights: Weights; tensor: 'plain' | 'transposed' } | string {
  const b = node.input?.[1] ?? '';
  const t = constants.get(b);
  if (!t) return `the weights (${b || 'input 1'}) are not a constant initializer`;
  if (t.dataType !== DataType.FLOAT) return `the weights ${b} are not float32`;
  if (isExternal(t))
    return `the weights ${b} are stored as external data, which this pass does not read`;
  const dims = (t.dims ?? []).map(toNumber);
  if (dims.length !== 2) return `the weights ${b} have rank ${dims.length}, not 2`;
  if (node.opType === 'Gemm' && attributeNumber(node, 'transA', 0) !== 0)
    return 'Gemm with transA = 1 is not quantised';
  const values = floatValues(t);
  if (node.opType === 'Gemm' && attributeNumber(node, 'transB', 0) !== 0) {
    // Stored [N, K]: transpose, so that every quantised layer multiplies by a [K, N] matrix.
    const [n, k] = dims as [number, number];
    const out = new Float32Array(k * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) out[j * n + i] = values[i * k + j]!;
    return { weights: { name: b, k, n, values: out }, tensor: 'transposed' };
  }
  const [k, n] = dims as [number, number];
  return { weights: { name: b, k, n, values }, tensor: 'plain' };
}

/**
 * Symmetric per-column quantisation: scale_n = max_k |w_kn| / qmax, q = round(w / scale_n),
 * clamped to [-qmax, qmax]. A column of zeros gets scale 1 (any scale represents it exactly).
 * `alpha` (Gemm's) is folded into the scales.
 */
export function quantizeColumns(
  values: Float32Array,
  k: number,
  n: number,
  qmax: number,
): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let max = 0;
    for (let i = 0; i < k; i++) max = Math.max(max, Math.abs(values[i * n + j]!));
    scale[j] = max > 0 ? max / qmax : 1;
  }
  const q = new Int8Array(k * n);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < n; j++) {
      const v = Math.round(values[i * n + j]! / scale[j]!);
      q[i * n + j] = v > qmax ? qmax : v < -qmax ? -qmax : v;
    }
  }
  return { q, scale };
}

function addQuantizedWeights(
  w: Weights,
  alpha: number,
  qmax: number,
  fresh: (b: string) => string,
  out: Tensor[],
): QuantWeights {
  const { q, scale } = quantizeColumns(w.values, w.k, w.n, qmax);
  if (alpha !== 1) for (let j = 0; j < w.n; j++) scale[j] = scale[j]! * alpha;
  const names = {
    q: fresh(`${w.name}_int8`),
    scale: fresh(`${w.name}_scale`),
    zeroPoint: fresh(`${w.name}_zero_point`),
  };
  out.push(int8Tensor(names.q, q, [w.k, w.n]));
  out.push(floatTensor(names.scale, scale, [w.n]));
  // Per-column zero points (all 0: the weights are symmetric), so that the quantisation is
  // per channel in the graph itself for any runtime or tool that reads it.
  out.push(int8Tensor(names.zeroPoint, new Int8Array(w.n), [w.n]));
  return names;
}

/** The nodes that replace one MatMul or Gemm; the last one writes the original output name. */
function quantizedLayer(
  node: Node,
  qw: QuantWeights,
  n: number,
  constants: Map<string, Tensor>,
  ops: Int8Ops,
  fresh: (b: string) => string,
  inits: Tensor[],
): Node[] {
  const a = node.input![0]!;
  const out = node.output![0]!;
  const label = node.name || out;
  const bias = node.opType === 'Gemm' ? gemmBias(node, n, constants, fresh, inits) : undefined;
  const nodes: Node[] = [...(bias?.prelude ?? [])];
  const add = (
    opType: string,
    inputs: string[],
    outputs: string[],
    domain = '',
    attribute: Node['attribute'] = [],
  ): void => {
    nodes.push({
      name: fresh(`${label}_q8_${opType}`),
      opType,
      domain,
      input: inputs,
      output: outputs,
      attribute,
    });
  };
  if (ops === 'ort') {
    const constBias = bias?.kind === 'vector';
    const mm = bias && !constBias ? fresh(`${out}_q8_mm`) : out;
    add(
      'DynamicQuantizeMatMul',
      [a, qw.q, qw.scale, qw.zeroPoint, ...(constBias ? [bias.name] : [])],
      [mm],
      kOrtDomain,
    );
    if (bias && !constBias) add('Add', [mm, bias.name], [out]);
    return nodes;
  }
  const xq = fresh(`${out}_q8_x`);
  const xs = fresh(`${out}_q8_x_scale`);
  const xz = fresh(`${out}_q8_x_zero_point`);
  add('DynamicQuantizeLinear', [a], [xq, xs, xz]);
  const acc = fresh(`${out}_q8_acc`);
  add('MatMulInteger', [xq, qw.q, xz, qw.zeroPoint], [acc]);
  const accF = fresh(`${out}_q8_acc_float`);
  add('Cast', [acc], [accF], '', [intAttribute('to', DataType.FLOAT)]);
  // x_scale × w_scale as its own Mul: the shape onnxruntime's MatMulIntegerToFloat fusion looks for.
  const scales = fresh(`${out}_q8_scales`);
  add('Mul', [xs, qw.scale], [scales]);
  const scaled = bias ? fresh(`${out}_q8_scaled`) : out;
  add('Mul', [accF, scales], [scaled]);
  if (bias) add('Add', [scaled, bias.name], [out]);
  return nodes;
}

/**
 * Gemm's `beta × C`, as the value to add: a constant [N] vector when C is a constant that
 * broadcasts along rows (what the fused kernels take as bias), else C scaled at run time.
 */
function gemmBias(
  node: Node,
  n: number,
  constants: Map<string, Tensor>,
  fresh: (b: string) => string,
  inits: Tensor[],
): { kind: 'vector' | 'tensor'; name: string; prelude?: Node[] } | undefined {
  const c = node.input?.[2] ?? '';
  if (c === '') return undefined;
  const beta = attributeNumber(node, 'beta', 1);
  const t = constants.get(c);
  const dims = (t?.dims ?? []).map(toNumber);
  const rowVector =
    t !== undefined &&
    t.dataType === DataType.FLOAT &&
    !isExternal(t) &&
    (dims.length === 0 ||
      dims.every((d, i) => (i === dims.length - 1 ? d === n || d === 1 : d === 1)));
  if (rowVector && beta === 1 && dims.length === 1 && dims[0] === n)
    return { kind: 'vector', name: c };
  if (rowVector) {
    const values = floatValues(t);
    const vector = new Float32Array(n);
    for (let j = 0; j < n; j++) vector[j] = beta * values[values.length === 1 ? 0 : j]!;
    const name = fresh(`${c}_bias`);
    inits.push(floatTensor(name, vector, [n]));
    return { kind: 'vector', name };
  }
  if (beta === 1) return { kind: 'tensor', name: c };
  const betaName = fresh(`${c}_beta`);
  inits.push(floatTensor(betaName, new Float32Array([beta]), []));
  const scaledName = fresh(`${c}_scaled`);
  const prelude: Node[] = [
    {
      name: fresh(`${c}_beta_Mul`),
      opType: 'Mul',
      domain: '',
      input: [c, betaName],
      output: [scaledName],
      attribute: [],
    },
  ];
  return { kind: 'tensor', name: scaledName, prelude };
}

function describeGraph(nodes: readonly Node[], layers: readonly LayerReport[]): string {
  if (layers.length > 0) {
    return `its ${layers.length} MatMul/Gemm node${layers.length === 1 ? '' : 's'} have no constant float weights (${layers.map((l) => `${l.node}: ${l.reason}`).join('; ')})`;
  }
  const ops = [...new Set(nodes.map((n) => (n.domain ? `${n.domain}.` : '') + (n.opType ?? '?')))];
  return `the graph has no MatMul or Gemm node (it holds ${nodes.length} node${nodes.length === 1 ? '' : 's'}${ops.length ? `: ${ops.slice(0, 12).join(', ')}${ops.length > 12 ? ', ...' : ''}` : ''})`;
}
