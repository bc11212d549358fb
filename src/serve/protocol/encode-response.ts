/**
 * Encodes an Open Inference Protocol inference response: JSON, or with the binary tensor data
 * extension when any output is to be returned as binary data.
 *
 * The JSON body is built as text directly from the typed arrays (see json-text.ts) and returned as a
 * string with `content-type: application/json`; Fastify sends such a string unmodified. Returning an
 * object instead would need every typed array copied into a JS array first (JSON.stringify writes a
 * Float32Array as `{"0":…}`): for a 1×10 FP32 output that measured about 1.75 µs (loop copy) or
 * 2.2 µs (Array.from) plus JSON.stringify, against about 1.1 µs for the text built here.
 *
 * @module
 */
import type { Tensor } from '../types.js';
import { binaryDataBytes } from './binary-data.js';
import { tensorDataJson } from './json-text.js';

/** What a response holds. */
export interface InferResponse {
  readonly modelName: string;
  readonly modelVersion: string;
  /** The request's id, echoed when the request had one. */
  readonly id?: string | undefined;
  /** The outputs, in the order to return them. */
  readonly outputs: readonly Tensor[];
  /**
   * Output name → true to return that output as binary data. Outputs not listed are JSON. The
   * decoder's `outputs[].binary` already folds in the request's `binary_data_output`.
   */
  readonly binary: Readonly<Record<string, boolean>>;
}

/** A response ready to send: the body and the headers to send with it. */
export interface EncodedResponse {
  /** JSON text, or (binary extension) the JSON header followed by the outputs' bytes. */
  readonly body: string | Buffer;
  /** Lower-case names: `content-type`, and `inference-header-content-length` for a binary body. */
  readonly headers: Readonly<Record<string, string>>;
}

const jsonHeaders: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'application/json',
});

/**
 * Encodes an inference response.
 *
 * @returns for JSON, `{ model_name, model_version, id?, outputs: [{ name, datatype, shape, data }] }`
 *   as text, data flat and row-major; with any binary output, a Buffer holding that JSON (binary
 *   outputs carrying `parameters.binary_data_size` instead of `data`) followed by the binary outputs'
 *   bytes in output order, and the JSON's byte length in `inference-header-content-length`.
 * @example
 * const { body, headers } = encodeInferResponse({ modelName: 'churn', modelVersion: '1', outputs, binary: {} });
 * reply.headers(headers).send(body);
 */
export function encodeInferResponse(response: InferResponse): EncodedResponse {
  let text = `{"model_name":${JSON.stringify(response.modelName)},"model_version":${JSON.stringify(response.modelVersion)}`;
  if (response.id !== undefined) text += `,"id":${JSON.stringify(response.id)}`;
  text += ',"outputs":[';
  let parts: Uint8Array[] | undefined;
  let binarySize = 0;
  const outputs = response.outputs;
  for (let i = 0; i < outputs.length; i++) {
    const tensor = outputs[i]!;
    if (i > 0) text += ',';
    text += `{"name":${JSON.stringify(tensor.name)},"datatype":"${tensor.datatype}","shape":[${tensor.shape.join(',')}]`;
    // Own properties only: an output named "constructor" must not find Object.prototype's.
    if (Object.hasOwn(response.binary, tensor.name) && response.binary[tensor.name] === true) {
      const bytes = binaryDataBytes(tensor);
      (parts ??= []).push(bytes);
      binarySize += bytes.length;
      text += `,"parameters":{"binary_data_size":${bytes.length}}}`;
    } else {
      text += `,"data":${tensorDataJson(tensor)}}`;
    }
  }
  text += ']}';
  if (parts === undefined) return { body: text, headers: jsonHeaders };

  const headerSize = Buffer.byteLength(text, 'utf8');
  const body = Buffer.allocUnsafe(headerSize + binarySize);
  body.write(text, 0, 'utf8');
  let offset = headerSize;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.length;
  }
  return {
    body,
    headers: {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(headerSize),
    },
  };
}
