/**
 * The Open Inference Protocol's tensor datatypes and how they map onto typed arrays and onnxruntime.
 *
 * Sizes follow the protocol's "Tensor Data Types" table (BYTES is variable: in the binary extension
 * each element is a 4-byte little-endian length followed by that many bytes).
 *
 * FP16 has no JavaScript number type (Node 20 has no Float16Array) and the protocol warns that it is
 * "problematic to communicate explicitly" in JSON. mlscale keeps FP16 tensors as their IEEE 754
 * half-precision bit patterns in a Uint16Array, which is also what onnxruntime-node takes and returns
 * for 'float16'. JSON requests may give FP16 values as ordinary numbers (rounded to the nearest half,
 * ties to even, by {@link floatToHalfBits}); binary requests give the raw 2-byte halves. JSON
 * responses write them back as numbers ({@link halfBitsToFloat}).
 *
 * @module
 */
import { datatypes, type Datatype } from '../../model/tensor-description.js';
import type { TensorData } from '../types.js';

/** Every typed array a decoded tensor can hold (all TensorData but BYTES' string[]). */
export type NumericTensorData = Exclude<TensorData, string[]>;

/** A constructor of one of the {@link NumericTensorData} arrays. */
export interface NumericArrayConstructor {
  new (length: number): NumericTensorData;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): NumericTensorData;
  readonly BYTES_PER_ELEMENT: number;
}

/** onnxruntime-node's tensor type names for the types the protocol can carry. */
export type OrtTensorType =
  | 'bool'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'float16'
  | 'float32'
  | 'float64'
  | 'string';

/** How a datatype's JSON values are read and written. */
export type ValueKind = 'bool' | 'int' | 'bigint' | 'half' | 'float' | 'bytes';

/** Everything the codec needs to know about one datatype. */
export interface DatatypeInfo {
  readonly datatype: Datatype;
  /** Bytes per element in the binary extension; 0 for BYTES, whose elements vary. */
  readonly byteSize: number;
  /** The typed array holding decoded data; undefined for BYTES (a string[]). */
  readonly arrayType: NumericArrayConstructor | undefined;
  /** onnxruntime-node's name for the type. */
  readonly ortType: OrtTensorType;
  readonly kind: ValueKind;
  /** Smallest and largest allowed value for the integer kinds (bigint for the 64-bit ones). */
  readonly min: number | bigint;
  readonly max: number | bigint;
}

function info(
  datatype: Datatype,
  byteSize: number,
  arrayType: NumericArrayConstructor | undefined,
  ortType: OrtTensorType,
  kind: ValueKind,
  min: number | bigint = 0,
  max: number | bigint = 0,
): DatatypeInfo {
  return Object.freeze({ datatype, byteSize, arrayType, ortType, kind, min, max });
}

/** Per-datatype facts, keyed by protocol datatype. */
export const datatypeInfo: Readonly<Record<Datatype, DatatypeInfo>> = Object.freeze({
  BOOL: info('BOOL', 1, Uint8Array, 'bool', 'bool'),
  UINT8: info('UINT8', 1, Uint8Array, 'uint8', 'int', 0, 0xff),
  UINT16: info('UINT16', 2, Uint16Array, 'uint16', 'int', 0, 0xffff),
  UINT32: info('UINT32', 4, Uint32Array, 'uint32', 'int', 0, 0xffff_ffff),
  UINT64: info('UINT64', 8, BigUint64Array, 'uint64', 'bigint', 0n, 2n ** 64n - 1n),
  INT8: info('INT8', 1, Int8Array, 'int8', 'int', -0x80, 0x7f),
  INT16: info('INT16', 2, Int16Array, 'int16', 'int', -0x8000, 0x7fff),
  INT32: info('INT32', 4, Int32Array, 'int32', 'int', -0x8000_0000, 0x7fff_ffff),
  INT64: info('INT64', 8, BigInt64Array, 'int64', 'bigint', -(2n ** 63n), 2n ** 63n - 1n),
  FP16: info('FP16', 2, Uint16Array, 'float16', 'half'),
  FP32: info('FP32', 4, Float32Array, 'float32', 'float'),
  FP64: info('FP64', 8, Float64Array, 'float64', 'float'),
  BYTES: info('BYTES', 0, undefined, 'string', 'bytes'),
});

const datatypeSet: ReadonlySet<string> = new Set(datatypes);

/** True when `value` is one of the protocol's datatype names (case-sensitive, as the protocol says). */
export function isDatatype(value: unknown): value is Datatype {
  return typeof value === 'string' && datatypeSet.has(value);
}

/** Bytes per element in the binary extension; 0 for BYTES, whose elements vary in size. */
export function elementByteSize(datatype: Datatype): number {
  return datatypeInfo[datatype].byteSize;
}

/** onnxruntime-node's tensor type name for a protocol datatype, e.g. FP32 → 'float32'. */
export function ortTensorType(datatype: Datatype): OrtTensorType {
  return datatypeInfo[datatype].ortType;
}

// For each datatype: ONNX's 'tensor(…)' type string and its TensorProto.DataType number.
// https://github.com/onnx/onnx/blob/main/onnx/onnx.proto (enum DataType)
const onnxNames: readonly (readonly [Datatype, string, number])[] = [
  ['FP32', 'tensor(float)', 1],
  ['UINT8', 'tensor(uint8)', 2],
  ['INT8', 'tensor(int8)', 3],
  ['UINT16', 'tensor(uint16)', 4],
  ['INT16', 'tensor(int16)', 5],
  ['INT32', 'tensor(int32)', 6],
  ['INT64', 'tensor(int64)', 7],
  ['BYTES', 'tensor(string)', 8],
  ['BOOL', 'tensor(bool)', 9],
  ['FP16', 'tensor(float16)', 10],
  ['FP64', 'tensor(double)', 11],
  ['UINT32', 'tensor(uint32)', 12],
  ['UINT64', 'tensor(uint64)', 13],
];
const fromOnnx: ReadonlyMap<string | number, Datatype> = new Map<string | number, Datatype>(
  onnxNames.flatMap(([datatype, onnxType, onnxNumber]): [string | number, Datatype][] => [
    [datatypeInfo[datatype].ortType, datatype],
    [onnxType, datatype],
    [onnxNumber, datatype],
  ]),
);

/**
 * The protocol datatype for an onnxruntime or ONNX element type.
 *
 * @param type - an onnxruntime-node type name ('float32', 'int64', 'string' …), an ONNX type string
 *   ('tensor(float)', 'tensor(double)' …) or an ONNX `TensorProto.DataType` number (1 = FLOAT …).
 * @returns the datatype, or undefined for types the protocol cannot carry (bfloat16, int4, float8,
 *   complex …); the caller decides whether that makes the model unservable.
 * @example datatypeFromOnnx('float32') // 'FP32'
 */
export function datatypeFromOnnx(type: string | number): Datatype | undefined {
  return fromOnnx.get(type);
}

/**
 * IEEE 754 binary16 bits for a number, rounded to nearest with ties to even; values at or beyond
 * 65520 become ±Infinity and NaN becomes the quiet NaN 0x7e00.
 *
 * Works from the double directly rather than through Float32Array, which would round twice.
 */
export function floatToHalfBits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  // 65520 is halfway between the largest half (65504) and the next step (65536, i.e. overflow).
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) {
    // Subnormal: a = m × 2^-24. Multiplying by a power of two is exact, so only one rounding happens.
    return sign | roundHalfEven(a * 2 ** 24);
  }
  let exponent = Math.floor(Math.log2(a));
  // Math.log2 may be off by one next to powers of two; fix it with exact comparisons.
  if (2 ** exponent > a) exponent--;
  else if (2 ** (exponent + 1) <= a) exponent++;
  const mantissa = roundHalfEven((a / 2 ** exponent - 1) * 1024);
  // A mantissa rounded up to 1024 carries into the exponent, which is the right encoding.
  return sign | (((exponent + 15) << 10) + mantissa);
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** The number an IEEE 754 binary16 bit pattern stands for. */
export function halfBitsToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
