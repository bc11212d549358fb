/**
 * A gRPC `ModelInferRequest` as the REST body the protocol codec already decodes: the same
 * validation and the same messages (`inputs[0].shape: expected [-1, 64], got [1, 63]`) for both
 * transports, and the same path to the batcher and the instances.
 *
 * Raw contents become the binary tensor data extension's layout, which is the same bytes (a JSON
 * header, then each tensor's bytes). Typed FP32, FP64, INT32 and UINT32 contents whose count fits
 * the shape are written as binary data too (the bytes the instances take, with no JSON number
 * text to write and parse again); other typed contents become the JSON `data` arrays, so that the
 * codec's checks and messages are those of REST. Every output is asked for as binary data, which
 * the response side turns back into raw or typed contents.
 *
 * @module
 */
import { InferenceRequestError } from '../../errors.js';
import type { RequestHeaders } from '../protocol/index.js';
import {
  kContentsField,
  type InferParameter,
  type InferTensorContents,
  type ModelInferRequest,
} from './messages.js';

/** A REST request body and its headers, and whether the answer goes back as raw contents. */
export interface RestInferRequest {
  readonly body: Buffer;
  readonly headers: RequestHeaders;
  readonly raw: boolean;
}

/**
 * Converts a ModelInferRequest. The conversion checks only what is gRPC's own (raw contents per
 * input, contents in the field of the datatype); the codec checks the rest.
 * @throws {InferenceRequestError} for a request that mixes raw and typed contents or puts
 *   elements in another datatype's field.
 */
export function toRestRequest(request: ModelInferRequest): RestInferRequest {
  const raw = request.raw_input_contents;
  const useRaw = raw.length > 0;
  // The binary data after the JSON header: the raw contents, or the typed contents written so.
  const parts: Uint8Array[] = useRaw ? [...raw] : [];
  if (useRaw && raw.length !== request.inputs.length)
    throw new InferenceRequestError(
      `raw_input_contents: expected one entry per input (${request.inputs.length}), got ${raw.length}`,
    );
  const inputs = request.inputs.map((input, i) => {
    const path = `inputs[${i}]`;
    const head: Record<string, unknown> = {
      name: input.name,
      datatype: input.datatype,
      shape: input.shape.map(Number),
    };
    const parameters = plainParameters(input.parameters);
    const filled = input.contents ? filledFields(input.contents) : [];
    if (useRaw) {
      if (filled.length > 0)
        throw new InferenceRequestError(
          `${path}.contents: give the tensor's elements either in raw_input_contents or in contents, not both (raw_input_contents is set, ${filled.join(', ')} too)`,
        );
      parameters.binary_data_size = raw[i]!.length;
      head.parameters = parameters;
      return head;
    }
    if (Object.keys(parameters).length > 0) head.parameters = parameters;
    const field = kContentsField[input.datatype];
    const stray = filled.filter((f) => f !== field);
    if (stray.length > 0 && field !== undefined)
      throw new InferenceRequestError(
        `${path}.contents: ${input.datatype} elements go in ${field}, got ${stray.join(', ')}`,
      );
    if (field === undefined && isHalf(input.datatype))
      throw new InferenceRequestError(
        `${path}.contents: ${input.datatype} has no typed contents field; send it in raw_input_contents`,
      );
    // An unknown datatype: the codec names it; the data given goes along for its other checks.
    const values = field !== undefined ? input.contents?.[field] : input.contents?.[filled[0]!];
    const binary = typedAsBinary(input.datatype, input.shape, values);
    if (binary !== undefined) {
      parameters.binary_data_size = binary.byteLength;
      head.parameters = parameters;
      parts.push(binary);
      return head;
    }
    head.data =
      field === 'bytes_contents'
        ? (values as Uint8Array[] | undefined)?.map((b) => Buffer.from(b).toString('utf8'))
        : (values ?? []);
    head.data ??= [];
    return head;
  });

  const header: Record<string, unknown> = { inputs };
  if (request.id !== '') header.id = request.id;
  const parameters = plainParameters(request.parameters);
  parameters.binary_data_output = true;
  header.parameters = parameters;
  if (request.outputs.length > 0)
    header.outputs = request.outputs.map((o) => ({
      name: o.name,
      parameters: { ...plainParameters(o.parameters), binary_data: true },
    }));

  const json = Buffer.from(JSON.stringify(header), 'utf8');
  if (parts.length === 0)
    return {
      body: json,
      headers: { 'inference-header-content-length': String(json.length) },
      raw: false,
    };
  let size = json.length;
  for (const part of parts) size += part.byteLength;
  const body = Buffer.allocUnsafe(size);
  json.copy(body, 0);
  let offset = json.length;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.byteLength;
  }
  return {
    body,
    headers: { 'inference-header-content-length': String(json.length) },
    raw: useRaw,
  };
}

// The binary layout is little-endian, as typed arrays are on this host (or not: then JSON).
const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The typed contents written as binary data, by datatype. */
const kBinaryArrays: Readonly<
  Record<string, { from(values: ArrayLike<number>): ArrayBufferView } | undefined>
> = Object.freeze({
  FP32: Float32Array,
  FP64: Float64Array,
  INT32: Int32Array,
  UINT32: Uint32Array,
});

/**
 * A typed input's elements as binary data (its bytes, little-endian), when the datatype is one
 * of kBinaryArrays' and the count fits the shape; undefined otherwise (the JSON path then gives
 * the codec's message for what is wrong).
 */
function typedAsBinary(
  datatype: string,
  shape: readonly (string | number)[],
  values: unknown,
): Uint8Array | undefined {
  const array = kBinaryArrays[datatype];
  if (array === undefined || !hostIsLittleEndian || !Array.isArray(values)) return undefined;
  let count = 1;
  for (const d of shape) {
    const n = Number(d);
    if (!Number.isSafeInteger(n) || n < 0) return undefined;
    count *= n;
  }
  if (count !== values.length) return undefined;
  for (const v of values as unknown[]) if (typeof v !== 'number') return undefined;
  const view = array.from(values as number[]);
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function isHalf(datatype: string): boolean {
  return datatype === 'FP16' || datatype === 'BF16';
}

/** The contents fields that hold elements. */
function filledFields(contents: InferTensorContents): (keyof InferTensorContents)[] {
  return (Object.keys(contents) as (keyof InferTensorContents)[]).filter((k) => {
    const v = contents[k];
    return Array.isArray(v) && v.length > 0;
  });
}

/** A parameters map as the JSON protocol writes it: name → value of its chosen field. */
function plainParameters(
  parameters: Readonly<Record<string, InferParameter>> | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (!parameters) return out;
  for (const [name, p] of Object.entries(parameters)) {
    // binary_data_output and binary_data are the REST transport's; gRPC answers as it was asked.
    if (name === 'binary_data_output' || name === 'binary_data' || name === 'binary_data_size')
      continue;
    const choice = p.parameter_choice;
    if (choice === undefined) continue;
    const value = p[choice as keyof InferParameter];
    // 64-bit integers arrive as strings; JSON numbers carry them when they fit exactly.
    out[name] =
      (choice === 'int64_param' || choice === 'uint64_param') && Number.isSafeInteger(Number(value))
        ? Number(value)
        : value;
  }
  return out;
}
