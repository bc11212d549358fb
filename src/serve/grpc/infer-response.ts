/**
 * A REST inference response (the binary tensor data extension's layout, which the gRPC side always
 * asks for) as a gRPC `ModelInferResponse`: raw output contents (the same bytes, not copied) when the
 * request sent raw input contents, typed contents otherwise. An output with no typed field (FP16,
 * BF16) makes the whole response raw, as the protocol allows only one of the two per response.
 *
 * @module
 */
import type { EncodedResponse } from '../protocol/index.js';
import { kContentsField, type InferOutputTensor, type ModelInferResponse } from './messages.js';

interface RestOutput {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly data?: unknown[];
  readonly parameters?: { readonly binary_data_size?: number };
}

interface RestResponse {
  readonly model_name: string;
  readonly model_version: string;
  readonly id?: string;
  readonly outputs: readonly RestOutput[];
}

/** Converts an encoded REST response; `raw` asks for raw output contents. */
export function toGrpcResponse(encoded: EncodedResponse, raw: boolean): ModelInferResponse {
  const bytes = typeof encoded.body === 'string' ? Buffer.from(encoded.body) : encoded.body;
  const headerLength = Number(encoded.headers['inference-header-content-length'] ?? bytes.length);
  const rest = JSON.parse(bytes.toString('utf8', 0, headerLength)) as RestResponse;
  const useRaw = raw || rest.outputs.some((o) => kContentsField[o.datatype] === undefined);

  const outputs: InferOutputTensor[] = [];
  const rawContents: Uint8Array[] = [];
  let offset = headerLength;
  for (const o of rest.outputs) {
    const size = o.parameters?.binary_data_size;
    const out: InferOutputTensor = {
      name: o.name,
      datatype: o.datatype,
      shape: [...o.shape],
      parameters: {},
    };
    if (size === undefined) {
      // A JSON output (not asked for by this side, handled all the same).
      if (useRaw) rawContents.push(Buffer.alloc(0));
      else out.contents = { [kContentsField[o.datatype]!]: o.data ?? [] };
    } else {
      const part = bytes.subarray(offset, offset + size);
      offset += size;
      if (useRaw) rawContents.push(part);
      else out.contents = { [kContentsField[o.datatype]!]: typedElements(o.datatype, part) };
    }
    outputs.push(out);
  }
  return {
    model_name: rest.model_name,
    model_version: rest.model_version,
    id: rest.id ?? '',
    parameters: {},
    outputs,
    raw_output_contents: rawContents,
  };
}

/** A tensor's binary bytes as the elements of its typed contents field. */
function typedElements(datatype: string, part: Buffer): unknown[] {
  // Copied to an aligned buffer: typed array views need offsets that are multiples of their size.
  const aligned = (): ArrayBuffer => {
    const copy = new Uint8Array(part.length);
    copy.set(part);
    return copy.buffer;
  };
  switch (datatype) {
    case 'BOOL':
      return Array.from(part, (b) => b !== 0);
    case 'UINT8':
      return Array.from(part);
    case 'INT8':
      return Array.from(new Int8Array(aligned()));
    case 'INT16':
      return Array.from(new Int16Array(aligned()));
    case 'UINT16':
      return Array.from(new Uint16Array(aligned()));
    case 'INT32':
      return Array.from(new Int32Array(aligned()));
    case 'UINT32':
      return Array.from(new Uint32Array(aligned()));
    case 'INT64':
      return Array.from(new BigInt64Array(aligned()), String);
    case 'UINT64':
      return Array.from(new BigUint64Array(aligned()), String);
    case 'FP32':
      return Array.from(new Float32Array(aligned()));
    case 'FP64':
      return Array.from(new Float64Array(aligned()));
    case 'BYTES':
      return bytesElements(part);
    default:
      return [];
  }
}

/** BYTES elements: each a 4-byte little-endian length, then its bytes. */
function bytesElements(part: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let offset = 0;
  while (offset + 4 <= part.length) {
    const length = part.readUInt32LE(offset);
    out.push(part.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  return out;
}
