/**
 * Dynamic batching's tensor work: merging several requests' inputs along the first (batch)
 * dimension, splitting a batch's outputs back into per-request slices, and the key that says which
 * requests may share a batch.
 *
 * @module
 */
import { ShapeError } from '../../errors.js';
import type { InferenceWork, Tensor, TensorData } from '../types.js';
import type { NumericArrayConstructor, NumericTensorData } from './datatypes.js';
import { formatShape } from './format.js';

/**
 * The key under which requests may share a batch: equal keys mean the same input names and
 * datatypes, the same shapes beyond the first dimension, and the same outputs in the same order
 * (a batch runs one output list, and each request gets its outputs in the order it asked for).
 */
export function signatureKey(work: InferenceWork): string {
  let key = '';
  for (const t of work.inputs) {
    key += `${JSON.stringify(t.name)}:${t.datatype}[`;
    for (let d = 1; d < t.shape.length; d++) key += d > 1 ? `,${t.shape[d]}` : String(t.shape[d]);
    key += '];';
  }
  return key + '>' + outputsKey(work.outputs);
}

/** The output list's part of the key, kept for frozen lists (the decoder shares one among most requests). */
const outputKeys = new WeakMap<readonly string[], string>();

function outputsKey(outputs: readonly string[]): string {
  let key = outputKeys.get(outputs);
  if (key === undefined) {
    key = JSON.stringify(outputs);
    if (Object.isFrozen(outputs)) outputKeys.set(outputs, key);
  }
  return key;
}

/**
 * Concatenates several requests' inputs along dimension 0.
 *
 * @param tensors - one entry per request: its inputs, in model order.
 * @returns one tensor per input holding every request's rows, in request order. A single request's
 *   tensors are returned as they are.
 * @throws ShapeError when the requests' inputs differ in count, name, datatype or shape beyond
 *   dimension 0 (the batcher groups by {@link signatureKey}, so this is a bug, not a bad request).
 */
export function mergeRows(tensors: readonly (readonly Tensor[])[]): Tensor[] {
  const first = tensors[0];
  if (first === undefined) throw new ShapeError('mergeRows: no requests to merge');
  if (tensors.length === 1) return first.slice();
  return first.map((head, k) => {
    const parts = tensors.map((inputs, r) => {
      const t = inputs[k];
      if (
        t === undefined ||
        t.name !== head.name ||
        t.datatype !== head.datatype ||
        !sameTrailingShape(t.shape, head.shape)
      ) {
        throw new ShapeError(
          `mergeRows: request ${r} input ${k} is ${t === undefined ? 'missing' : describe(t)}; request 0 has ${describe(head)}`,
        );
      }
      return t;
    });
    let rows = 0;
    for (const t of parts) rows += t.shape[0]!;
    return {
      name: head.name,
      datatype: head.datatype,
      shape: [rows, ...head.shape.slice(1)],
      data: concat(parts.map((t) => t.data)),
    };
  });
}

/**
 * Cuts a batch's outputs into each request's rows.
 *
 * @param outputs - the batch's outputs, each with the batch's total rows as its first dimension.
 * @param rowsPerRequest - each request's row count, in the order the batch was merged.
 * @param options - `copy: true` gives each request its own buffers (for transfer to another thread);
 *   by default slices are views (`subarray`) of the batch's arrays, enough for encoding JSON.
 * @returns for each request, its slice of every output.
 * @throws ShapeError when an output's first dimension is not the sum of `rowsPerRequest`.
 */
export function splitRows(
  outputs: readonly Tensor[],
  rowsPerRequest: readonly number[],
  options: { copy?: boolean } = {},
): Tensor[][] {
  let total = 0;
  for (const rows of rowsPerRequest) total += rows;
  for (const t of outputs) {
    if (t.shape[0] !== total) {
      throw new ShapeError(
        `splitRows: output "${t.name}" has shape ${formatShape(t.shape)}; expected ${total} rows for requests of ${rowsPerRequest.join(', ')} rows`,
      );
    }
  }
  const copy = options.copy === true;
  if (rowsPerRequest.length === 1 && !copy) return [outputs.slice()];
  const result: Tensor[][] = rowsPerRequest.map(() => []);
  for (const t of outputs) {
    let rowSize = 1;
    for (let d = 1; d < t.shape.length; d++) rowSize *= t.shape[d]!;
    let start = 0;
    rowsPerRequest.forEach((rows, r) => {
      const from = start * rowSize;
      const to = (start + rows) * rowSize;
      const data: TensorData = Array.isArray(t.data)
        ? t.data.slice(from, to)
        : copy
          ? (t.data as NumericTensorData).slice(from, to)
          : (t.data as NumericTensorData).subarray(from, to);
      result[r]!.push({
        name: t.name,
        datatype: t.datatype,
        shape: [rows, ...t.shape.slice(1)],
        data,
      });
      start += rows;
    });
  }
  return result;
}

function sameTrailingShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length || a.length === 0) return false;
  for (let i = 1; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function describe(t: Tensor): string {
  return `"${t.name}" ${t.datatype} ${formatShape(t.shape)}`;
}

function concat(parts: readonly TensorData[]): TensorData {
  const head = parts[0]!;
  if (Array.isArray(head)) return ([] as string[]).concat(...(parts as string[][]));
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new (head.constructor as NumericArrayConstructor)(length);
  let offset = 0;
  for (const p of parts) {
    (out as Uint8Array).set(p as Uint8Array, offset);
    offset += p.length;
  }
  return out;
}
