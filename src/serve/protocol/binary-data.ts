/**
 * Tensor data in the binary tensor data extension's layout: little-endian, row-major, no padding;
 * BOOL as one byte (1 or 0); BYTES as a 4-byte little-endian length followed by that many bytes.
 * https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_binary_data.md
 *
 * @module
 */
import { InferenceRequestError } from '../../errors.js';
import type { Datatype } from '../../model/tensor-description.js';
import type { Tensor, TensorData } from '../types.js';
import { datatypeInfo, type NumericTensorData } from './datatypes.js';
import { formatShape, formatValue } from './format.js';
import { nestedIndex } from './json-data.js';

// The layout is little-endian; typed arrays use the host's order, which is big-endian on s390x.
const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes one input's binary data.
 *
 * @param bytes - exactly the input's `binary_data_size` bytes.
 * @param shape - the input's (already checked) shape, holding `count` elements.
 * @param path - the input's JSON path for messages, e.g. `inputs[0]`.
 * @returns a fresh, aligned array: the request body is not kept alive by the tensor.
 * @throws InferenceRequestError when the size does not fit the shape, a BOOL byte is not 0 or 1, or a
 *   BYTES element overruns the tensor or is not UTF-8.
 */
export function readBinaryData(
  bytes: Uint8Array,
  shape: readonly number[],
  count: number,
  datatype: Datatype,
  path: string,
): TensorData {
  const info = datatypeInfo[datatype];
  if (info.arrayType === undefined) return readBinaryStrings(bytes, count, path);
  const expected = count * info.byteSize;
  if (bytes.length !== expected) {
    throw new InferenceRequestError(
      `${path}.parameters.binary_data_size: shape ${formatShape(shape)} of ${datatype} needs ${expected} bytes, got ${bytes.length}`,
    );
  }
  const out = new info.arrayType(count);
  const outBytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  outBytes.set(bytes);
  if (!hostIsLittleEndian) swapBytes(outBytes, info.byteSize);
  // One rule with JSON, which cannot carry them: ±Infinity and NaN never reach a model.
  if (info.kind === 'float') checkFinite(out as Float32Array | Float64Array, shape, datatype, path);
  else if (info.kind === 'half') checkFiniteHalf(out as Uint16Array, shape, datatype, path);
  if (datatype === 'BOOL') {
    for (let i = 0; i < count; i++) {
      const b = outBytes[i]!;
      if (b > 1)
        throw new InferenceRequestError(
          `${path}: binary BOOL element ${i} is ${b}; expected 0 (false) or 1 (true)`,
        );
    }
  }
  return out;
}

/** Refuses a non-finite element, with the message JSON data gets for it (json-data.ts). */
function checkFinite(
  values: Float32Array | Float64Array,
  shape: readonly number[],
  datatype: Datatype,
  path: string,
): void {
  for (let i = 0; i < values.length; i++) {
    // `v - v` is 0 for a finite number and NaN for ±Infinity and NaN: one compare per element.
    const v = values[i]!;
    if (v - v !== 0) nonFinite(v, i, shape, datatype, path, 'a finite number in range');
  }
}

function checkFiniteHalf(
  bits: Uint16Array,
  shape: readonly number[],
  datatype: Datatype,
  path: string,
): void {
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    if ((b & 0x7c00) === 0x7c00)
      nonFinite(
        (b & 0x3ff) !== 0 ? NaN : b & 0x8000 ? -Infinity : Infinity,
        i,
        shape,
        datatype,
        path,
        'a finite number within ±65504',
      );
  }
}

function nonFinite(
  value: number,
  i: number,
  shape: readonly number[],
  datatype: Datatype,
  path: string,
  expected: string,
): never {
  throw new InferenceRequestError(
    `${path}.binary_data${nestedIndex(i, shape)}: expected ${expected} for ${datatype}, got ${formatValue(value)}`,
  );
}

function readBinaryStrings(bytes: Uint8Array, count: number, path: string): string[] {
  // Every element takes at least its 4-byte length: check before allocating `count` (from the request) slots.
  if (count * 4 > bytes.length) {
    throw new InferenceRequestError(
      `${path}.parameters.binary_data_size: ${count} BYTES elements need at least ${count * 4} bytes, got ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Array<string>(count);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > bytes.length) {
      throw new InferenceRequestError(
        `${path}.parameters.binary_data_size: ${bytes.length} bytes end inside BYTES element ${i}'s 4-byte length; the shape holds ${count} elements`,
      );
    }
    const length = view.getUint32(offset, true);
    offset += 4;
    if (offset + length > bytes.length) {
      throw new InferenceRequestError(
        `${path}: binary BYTES element ${i} has length ${length}, but only ${bytes.length - offset} of the tensor's ${bytes.length} bytes remain`,
      );
    }
    try {
      out[i] = utf8.decode(bytes.subarray(offset, offset + length));
    } catch (err) {
      // Tensors hold BYTES as JS strings; replacing bad sequences with U+FFFD would change the data silently.
      throw new InferenceRequestError(`${path}: binary BYTES element ${i} is not valid UTF-8`, {
        cause: err,
      });
    }
    offset += length;
  }
  if (offset !== bytes.length) {
    throw new InferenceRequestError(
      `${path}.parameters.binary_data_size: the ${count} BYTES elements take ${offset} bytes, got ${bytes.length}`,
    );
  }
  return out;
}

/** The bytes of `tensor.data` in the extension's layout: a view of the array where the host allows it. */
export function binaryDataBytes(tensor: Tensor): Uint8Array {
  const data = tensor.data;
  if (Array.isArray(data)) return writeBinaryStrings(data);
  const numeric = data as NumericTensorData;
  const view = new Uint8Array(numeric.buffer, numeric.byteOffset, numeric.byteLength);
  if (hostIsLittleEndian || numeric.BYTES_PER_ELEMENT === 1) return view;
  const copy = view.slice();
  swapBytes(copy, numeric.BYTES_PER_ELEMENT);
  return copy;
}

function writeBinaryStrings(values: readonly string[]): Uint8Array {
  let size = 0;
  for (const s of values) size += 4 + Buffer.byteLength(s, 'utf8');
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const s of values) {
    const length = out.write(s, offset + 4, 'utf8');
    out.writeUInt32LE(length, offset);
    offset += 4 + length;
  }
  return out;
}

/** Reverses each `size`-byte element in place (little- ↔ big-endian). */
function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}
