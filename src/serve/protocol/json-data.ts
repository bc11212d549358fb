/**
 * Reads an input's JSON `data` into a typed array: flattens the nested form after checking it
 * against the shape, and checks every element against the datatype.
 *
 * The protocol lets tensor data come "in their natural multi-dimensional representation, or as a
 * flattened one-dimensional representation", row-major either way, and lets the server "coerce each
 * element to the required type or return an error". mlscale returns an error and coerces nothing,
 * except that INT64/UINT64 also take strings of digits, because JSON numbers lose precision beyond
 * 2^53 before any server sees them.
 *
 * @module
 */
import { InferenceRequestError } from '../../errors.js';
import type { Datatype } from '../../model/tensor-description.js';
import type { TensorData } from '../types.js';
import {
  datatypeInfo,
  floatToHalfBits,
  type DatatypeInfo,
  type NumericTensorData,
} from './datatypes.js';
import { formatShape, formatValue } from './format.js';

/**
 * The tensor data in an input's JSON `data`.
 *
 * @param data - the input's `data` value, flat or nested.
 * @param shape - the input's (already checked) shape.
 * @param count - the number of elements the shape holds.
 * @param path - the input's JSON path for messages, e.g. `inputs[0]`.
 * @throws InferenceRequestError naming the path of the first bad element or array.
 */
export function readJsonData(
  data: unknown,
  shape: readonly number[],
  count: number,
  datatype: Datatype,
  path: string,
  missingAsNaN = false,
): TensorData {
  if (!Array.isArray(data)) {
    throw new InferenceRequestError(`${path}.data: expected an array, got ${formatValue(data)}`);
  }
  const info = datatypeInfo[datatype];
  if (shape.length > 1 && data.length > 0 && Array.isArray(data[0])) {
    // Nested: check every level first, then convert each innermost array straight into place.
    const leaves = innermostArrays(data, shape, `${path}.data`);
    const out = allocate(info, count);
    const at = (i: number) => `${path}.data${nestedIndex(i, shape)}`;
    const width = shape[shape.length - 1]!;
    for (let r = 0; r < leaves.length; r++)
      write(out, info, leaves[r]!, r * width, at, missingAsNaN);
    return out;
  }
  if (data.length !== count) {
    throw new InferenceRequestError(
      `${path}: shape ${formatShape(shape)} holds ${count} values, data has ${data.length}`,
    );
  }
  const out = allocate(info, count);
  write(out, info, data, 0, (i) => `${path}.data[${i}]`, missingAsNaN);
  return out;
}

/** The innermost arrays of nested data, in row-major order, after checking each level's length against the shape. */
function innermostArrays(
  data: readonly unknown[],
  shape: readonly number[],
  path: string,
): (readonly unknown[])[] {
  const leaves: (readonly unknown[])[] = [];
  const last = shape.length - 1;
  // The index of each level being walked; the path text is built only for an error.
  const at: number[] = [];
  const walk = (node: unknown, depth: number): void => {
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      const given = Array.isArray(node) ? `length ${node.length}` : formatValue(node);
      const where =
        path +
        at
          .slice(0, depth)
          .map((i) => `[${i}]`)
          .join('');
      throw new InferenceRequestError(
        `${where}: expected an array of length ${shape[depth]} (dimension ${depth} of shape ${formatShape(shape)}), got ${given}`,
      );
    }
    if (depth === last) {
      leaves.push(node);
      return;
    }
    for (let i = 0; i < node.length; i++) {
      at[depth] = i;
      walk(node[i], depth + 1);
    }
  };
  walk(data, 0);
  return leaves;
}

/** `[1][3]`: the nested-array index of row-major element `flat`. */
export function nestedIndex(flat: number, shape: readonly number[]): string {
  let rest = flat;
  let text = '';
  for (let d = shape.length - 1; d >= 0; d--) {
    const size = shape[d] ?? 1;
    text = `[${rest % size}]` + text;
    rest = Math.floor(rest / size);
  }
  return text;
}

function allocate(info: DatatypeInfo, count: number): TensorData {
  return info.arrayType === undefined ? new Array<string>(count) : new info.arrayType(count);
}

/** Checks and converts `values` into `out` from `offset`; `at` gives an element's path for messages. */
function write(
  out: TensorData,
  info: DatatypeInfo,
  values: readonly unknown[],
  offset: number,
  at: (i: number) => string,
  missingAsNaN: boolean,
): void {
  const n = values.length;
  // Failures go through badElement() rather than a closure: a closure here would move the loop's
  // variables into a heap context and slow every element down.
  switch (info.kind) {
    case 'float': {
      const target = out as Float32Array | Float64Array;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'number') {
          // A missing value, for a model that imputes it; the check is off the numbers' path.
          if (v === null && missingAsNaN) {
            target[offset + i] = NaN;
            continue;
          }
          badElement(values, i, offset, at, info, 'a number');
        }
        target[offset + i] = v as number;
        // JSON.parse reads 1e400 as Infinity, and FP32 overflows far sooner: both would reach the model as ±Infinity.
        if (!Number.isFinite(target[offset + i]))
          badElement(values, i, offset, at, info, 'a finite number in range');
      }
      return;
    }
    case 'half': {
      const target = out as Uint16Array;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'number') {
          if (v === null && missingAsNaN) {
            target[offset + i] = 0x7e00; // FP16 NaN
            continue;
          }
          badElement(values, i, offset, at, info, 'a number');
        }
        const bits = floatToHalfBits(v as number);
        if ((bits & 0x7c00) === 0x7c00)
          badElement(values, i, offset, at, info, 'a finite number within ±65504');
        target[offset + i] = bits;
      }
      return;
    }
    case 'int': {
      const target = out as Exclude<NumericTensorData, BigInt64Array | BigUint64Array>;
      const min = info.min as number;
      const max = info.max as number;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
          badElement(values, i, offset, at, info, `an integer from ${min} to ${max}`);
        target[offset + i] = v as number;
      }
      return;
    }
    case 'bigint': {
      const target = out as BigInt64Array | BigUint64Array;
      const min = info.min as bigint;
      const max = info.max as bigint;
      const expected = `an integer from ${min} to ${max} (a number, or a string of digits beyond 2^53)`;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        let big: bigint;
        if (typeof v === 'number' && Number.isSafeInteger(v)) big = BigInt(v);
        // A JSON number beyond 2^53 was already rounded by the parser: refuse it rather than use the wrong value.
        else if (typeof v === 'string' && /^-?\d{1,20}$/.test(v)) big = BigInt(v);
        else return badElement(values, i, offset, at, info, expected);
        if (big < min || big > max) badElement(values, i, offset, at, info, expected);
        target[offset + i] = big;
      }
      return;
    }
    case 'bool': {
      const target = out as Uint8Array;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v === true) target[offset + i] = 1;
        else if (v !== false) badElement(values, i, offset, at, info, 'true or false');
      }
      return;
    }
    case 'bytes': {
      const target = out as string[];
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'string') badElement(values, i, offset, at, info, 'a string');
        target[offset + i] = v as string;
      }
      return;
    }
  }
}

function badElement(
  values: readonly unknown[],
  i: number,
  offset: number,
  at: (i: number) => string,
  info: DatatypeInfo,
  expected: string,
): never {
  // null is how JSON writes a missing value: say which models take it.
  const hint =
    values[i] === null && (info.kind === 'float' || info.kind === 'half')
      ? " (null is a missing value only for models that impute missing values, such as mlscale's own exports with their preprocessing inside; this model does not: send a number, or impute it before sending)"
      : '';
  throw new InferenceRequestError(
    `${at(offset + i)}: expected ${expected} for ${info.datatype}, got ${formatValue(values[i])}${hint}`,
  );
}
