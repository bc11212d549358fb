/**
 * FP16 weights: every constant float32 initializer is stored as float16 and cast back to float32
 * by a `Cast` node, so the graph computes in FP32 as before and only the file (and the weights'
 * precision) changes.
 *
 * Why not the whole graph in float16 with Casts at the edges: onnxruntime's CPU provider has no
 * float16 Gemm on x86, so it inserts casts back to float32 around each layer; measured on this
 * machine it ran at 0.83–1.08x of FP32 across runs, never faster, while weights-only FP16 runs
 * FP32's own kernels (onnxruntime folds the Casts of constants away when it loads the model) with
 * the same halved file (BENCHMARKS.md, "Model variants"). Whole-graph FP16 pays on GPUs and accelerators with FP16 units, which this
 * pass does not target.
 *
 * mlscale's preprocessing constants (`pre_*`) and output scaling (`target_*`) stay FP32: they
 * are small and standardise raw inputs, where FP16's 3 significant digits would shift features.
 *
 * @module
 */
import {
  constantInitializers,
  DataType,
  decodeModel,
  dimsSize,
  encodeModel,
  float16Tensor,
  floatValues,
  intAttribute,
  isExternal,
  namer,
  toNumber,
  valueNames,
  type Node,
} from './onnx-model.js';

/** Largest finite float16. */
const kMaxHalf = 65504;

// One shared scratch word: a float32's bits without an allocation per value (a 50 MB model has
// 13 million of them).
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** What the pass did with one initializer. */
export interface Fp16TensorReport {
  readonly name: string;
  readonly values: number;
  readonly converted: boolean;
  /** Largest |fp16(w) − w| over the tensor, when converted. */
  readonly maxAbsError?: number;
  readonly reason?: string;
}

/** The FP16-weights model and the per-tensor report. */
export interface Fp16Result {
  readonly model: Uint8Array;
  readonly tensors: readonly Fp16TensorReport[];
  readonly converted: number;
}

/**
 * Converts a float32 to the bit pattern of the nearest float16 (ties to even), as IEEE 754
 * conversion does; values beyond ±65504 become ±Infinity, NaN stays NaN.
 */
export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp32 = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp32 === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const exp = exp32 - 127 + 15;
  if (exp >= 0x1f) return sign | 0x7c00;
  if (exp <= 0) {
    // Subnormal half (or zero): shift the mantissa, with its implicit 1, into place.
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    let h = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = sign | (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (and reaches Infinity at the top).
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
  return h;
}

/** The value of a float16 bit pattern. */
export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/**
 * Stores the model's constant float32 initializers as float16.
 * @param keepFp32 Initializers that must stay float32.
 */
export function convertFp16(
  bytes: Uint8Array,
  file: string,
  keepFp32: (name: string) => boolean,
): Fp16Result {
  const model = decodeModel(bytes, file);
  const g = model.graph!;
  const constants = constantInitializers(model);
  const fresh = namer(valueNames(model));
  const tensors: Fp16TensorReport[] = [];
  const casts: Node[] = [];
  g.initializer = (g.initializer ?? []).map((t) => {
    const name = t.name ?? '';
    if (t.dataType !== DataType.FLOAT || !constants.has(name)) return t;
    const skip = (reason: string) => {
      tensors.push({ name, values: dimsSize(t.dims ?? []), converted: false, reason });
      return t;
    };
    if (keepFp32(name)) return skip('part of the preprocessing subgraph, which stays FP32');
    if (isExternal(t)) return skip('stored as external data, which this pass does not read');
    const values = floatValues(t);
    let max = 0;
    for (const v of values) if (Number.isFinite(v)) max = Math.max(max, Math.abs(v));
    if (max > kMaxHalf)
      return skip(`holds values up to ${max.toExponential(3)}, beyond float16's ±65504`);
    const bits = new Uint16Array(values.length);
    let maxAbsError = 0;
    for (let i = 0; i < values.length; i++) {
      bits[i] = toHalfBits(values[i]!);
      const err = Math.abs(fromHalfBits(bits[i]!) - values[i]!);
      if (err > maxAbsError) maxAbsError = err;
    }
    const half = fresh(`${name}_fp16`);
    // The Cast writes the original name, so every consumer reads float32 as before.
    casts.push({
      name: fresh(`${name}_to_float`),
      opType: 'Cast',
      domain: '',
      input: [half],
      output: [name],
      attribute: [intAttribute('to', DataType.FLOAT)],
    });
    tensors.push({ name, values: values.length, converted: true, maxAbsError });
    return float16Tensor(half, bits, (t.dims ?? []).map(toNumber));
  });
  g.node = [...casts, ...(g.node ?? [])];
  return {
    model: encodeModel(model),
    tensors,
    converted: tensors.filter((t) => t.converted).length,
  };
}
