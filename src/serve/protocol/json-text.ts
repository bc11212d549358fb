/**
 * Writes tensor data as JSON text straight from typed arrays: no intermediate JS arrays, which would
 * cost an allocation and a copy per response on the server's hot path.
 *
 * Values JSON has no number for are written as strings, so that no information is lost and the text
 * stays valid JSON: INT64/UINT64 values beyond ±(2^53 − 1) as decimal strings ("9007199254740993"),
 * and non-finite floats as "NaN", "Infinity" and "-Infinity". Everything else is a JSON number, or
 * true/false for BOOL, or a string for BYTES.
 *
 * @module
 */
import type { Tensor } from '../types.js';
import { datatypeInfo, halfBitsToFloat } from './datatypes.js';

const maxSafe = BigInt(Number.MAX_SAFE_INTEGER);

/** The JSON array text of `tensor.data`, flat and row-major, e.g. `[0.5,1,2]`. */
export function tensorDataJson(tensor: Tensor): string {
  const data = tensor.data;
  if (Array.isArray(data)) return JSON.stringify(data);
  switch (datatypeInfo[tensor.datatype].kind) {
    case 'int':
      // Integers are always finite, and join() is a single native pass.
      return '[' + Array.prototype.join.call(data, ',') + ']';
    case 'float':
      return floatsJson(data as Float32Array | Float64Array);
    case 'half': {
      let text = '[';
      for (let i = 0; i < data.length; i++) {
        if (i > 0) text += ',';
        text += numberJson(halfBitsToFloat((data as Uint16Array)[i]!));
      }
      return text + ']';
    }
    case 'bigint': {
      let text = '[';
      const values = data as BigInt64Array | BigUint64Array;
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        if (i > 0) text += ',';
        text += v > maxSafe || v < -maxSafe ? `"${v}"` : String(v);
      }
      return text + ']';
    }
    case 'bool': {
      let text = '[';
      for (let i = 0; i < data.length; i++)
        text += (i > 0 ? ',' : '') + (data[i] ? 'true' : 'false');
      return text + ']';
    }
    case 'bytes':
      // A string[] was handled above; typed data under a BYTES datatype is a caller's bug.
      throw new TypeError(`tensor "${tensor.name}": BYTES data must be a string[]`);
  }
}

function floatsJson(values: Float32Array | Float64Array): string {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      let text = '[';
      for (let j = 0; j < values.length; j++) text += (j > 0 ? ',' : '') + numberJson(values[j]!);
      return text + ']';
    }
  }
  // All finite: join() writes each value as String(v) does, which is valid JSON for finite numbers.
  return '[' + Array.prototype.join.call(values, ',') + ']';
}

function numberJson(v: number): string {
  return Number.isFinite(v) ? String(v) : `"${v}"`;
}
