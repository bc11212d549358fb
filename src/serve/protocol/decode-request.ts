/**
 * Decodes and validates an Open Inference Protocol inference request (KServe v2 / Triton REST),
 * JSON or with the binary tensor data extension, against a model's signature.
 *
 * - JSON: https://github.com/kserve/kserve/blob/master/docs/predict-api/v2/required_api.md
 * - Binary: https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_binary_data.md
 *
 * Every problem is an InferenceRequestError (or BatchTooLargeError) whose message starts with the
 * JSON path at fault and gives what was expected and what was given, e.g.
 * `inputs[0].shape: expected [-1, 64], got [1, 63]`.
 *
 * @module
 */
import { BatchTooLargeError, InferenceRequestError } from '../../errors.js';
import type { Datatype } from '../../model/tensor-description.js';
import type { InferenceWork, ModelSignature, Tensor, TensorData } from '../types.js';
import { binaryRemainder, jsonText, type RequestHeaders } from './request-body.js';
import { readBinaryData } from './binary-data.js';
import { isDatatype } from './datatypes.js';
import { formatNames, formatShape, formatValue } from './format.js';
import { expectObject, own, readBooleanParameter, readParameters } from './json-fields.js';
import { readJsonData } from './json-data.js';

export type { RequestHeaders } from './request-body.js';

/** An output the request asked for, and whether to return it as binary data. */
export interface RequestedOutput {
  readonly name: string;
  readonly binary: boolean;
}

/** A validated request: its id and parameters to echo or use, the work for the batcher, and the outputs to return. */
export interface DecodedRequest {
  readonly id?: string;
  /** The request's `parameters`, copied onto a null-prototype object. */
  readonly parameters?: Readonly<Record<string, unknown>>;
  readonly work: InferenceWork;
  /** In the request's order; every model output, in model order, when the request named none. */
  readonly outputs: readonly RequestedOutput[];
}

/** Limits the decoder enforces. */
export interface DecodeOptions {
  /** Most rows one request may hold for a batchable model; 0 means no limit. */
  readonly maxBatchSize: number;
  /**
   * Whether JSON `null` in an FP input is a missing value, read as NaN: for models that impute
   * missing values themselves (mlscale's exports, whose graph replaces NaN with the training mean).
   * Otherwise `null` is refused, saying so.
   */
  readonly missingAsNaN?: boolean;
}

/** One input's header, checked, before its data is read. */
interface InputPlan {
  readonly path: string;
  readonly slot: number;
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: number[];
  readonly count: number;
  readonly data: unknown;
  readonly binarySize: number | undefined;
}

/** Name → position lookups for a signature, built once per signature. */
interface SignatureIndex {
  readonly inputs: ReadonlyMap<string, number>;
  readonly outputs: ReadonlyMap<string, number>;
  /**
   * The outputs of a request that names none, without and with `binary_data_output`, and their
   * names: shared by every such request (most of them), frozen, so that the batcher's
   * per-outputs caches (see `signatureKey`) hit instead of rebuilding per request.
   */
  readonly allOutputs: readonly [readonly RequestedOutput[], readonly RequestedOutput[]];
  readonly allOutputNames: readonly string[];
}
const indexes = new WeakMap<ModelSignature, SignatureIndex>();

function indexOf(signature: ModelSignature): SignatureIndex {
  let index = indexes.get(signature);
  if (index === undefined) {
    index = {
      inputs: new Map(signature.inputs.map((t, i) => [t.name, i])),
      outputs: new Map(signature.outputs.map((t, i) => [t.name, i])),
      allOutputs: [false, true].map((binary) =>
        Object.freeze(signature.outputs.map((t) => Object.freeze({ name: t.name, binary }))),
      ) as unknown as SignatureIndex['allOutputs'],
      allOutputNames: Object.freeze(signature.outputs.map((t) => t.name)),
    };
    indexes.set(signature, index);
  }
  return index;
}

/**
 * Decodes an inference request and checks it against the model's signature.
 *
 * @param body - the request body: a Buffer or string of JSON (parsed here with secure-json-parse,
 *   refusing `__proto__` and `constructor.prototype` keys), a Buffer in the binary extension's layout
 *   when `headers` has `inference-header-content-length`, or an object some other parser produced
 *   (read through own properties only).
 * @param headers - the request headers; only `inference-header-content-length` is read, and only
 *   for a Buffer body.
 * @param signature - the model version's inputs, outputs and whether it batches.
 * @param options - `maxBatchSize`: most rows in one request (0 = no limit).
 * @returns the request's id and parameters, the inputs in model order as typed arrays, and the outputs to return.
 * @throws InferenceRequestError for a malformed request or one that does not fit the model.
 * @throws BatchTooLargeError when a batchable model's request has more than `maxBatchSize` rows.
 * @example
 * const { work, outputs } = decodeInferRequest(request.body, request.headers, signature, { maxBatchSize: 64 });
 */
export function decodeInferRequest(
  body: unknown,
  headers: RequestHeaders,
  signature: ModelSignature,
  options: DecodeOptions,
): DecodedRequest {
  if (!Number.isSafeInteger(options.maxBatchSize) || options.maxBatchSize < 0) {
    throw new TypeError(
      `options.maxBatchSize must be a non-negative integer (0 for no limit), got ${formatValue(options.maxBatchSize)}`,
    );
  }
  const { json, binary } = splitBody(body, headers);
  const request = expectObject(json, 'body');

  const id = own(request, 'id');
  if (id !== undefined && typeof id !== 'string')
    throw new InferenceRequestError(`id: expected a string, got ${formatValue(id)}`);
  const parameters = readParameters(own(request, 'parameters'), 'parameters');
  const binaryDataOutput =
    readBooleanParameter(parameters, 'binary_data_output', 'parameters') ?? false;

  const inputs = own(request, 'inputs');
  if (!Array.isArray(inputs))
    throw new InferenceRequestError(`inputs: expected an array, got ${formatValue(inputs)}`);
  const plans = planInputs(inputs, signature, options.maxBatchSize);
  const outputs = readOutputs(own(request, 'outputs'), signature, binaryDataOutput);
  // Most requests carry no binary data: no segment map for them.
  const segments =
    binary === undefined && plans.every((p) => p.binarySize === undefined)
      ? undefined
      : binarySegments(plans, binary);

  const tensors = new Array<Tensor>(signature.inputs.length);
  for (const plan of plans) {
    const segment = segments?.get(plan);
    const data: TensorData =
      segment === undefined
        ? readJsonData(
            plan.data,
            plan.shape,
            plan.count,
            plan.datatype,
            plan.path,
            options.missingAsNaN === true,
          )
        : readBinaryData(segment, plan.shape, plan.count, plan.datatype, plan.path);
    tensors[plan.slot] = { name: plan.name, datatype: plan.datatype, shape: plan.shape, data };
  }
  const rows = signature.batchable ? (plans[0]?.shape[0] ?? 1) : 1;
  const index = indexOf(signature);
  const names =
    outputs === index.allOutputs[0] || outputs === index.allOutputs[1]
      ? index.allOutputNames
      : outputs.map((o) => o.name);
  const decoded: { -readonly [K in keyof DecodedRequest]: DecodedRequest[K] } = {
    work: { inputs: tensors, outputs: names, rows },
    outputs,
  };
  if (id !== undefined) decoded.id = id;
  if (parameters !== undefined) decoded.parameters = parameters;
  return decoded;
}

/** The JSON part of the body and the binary data after it (undefined without the binary extension). */
function splitBody(
  body: unknown,
  headers: RequestHeaders,
): { json: unknown; binary: Uint8Array | undefined } {
  if (body instanceof Uint8Array) {
    const binary = binaryRemainder(body, headers);
    const text = binary === undefined ? body : body.subarray(0, body.length - binary.length);
    return { json: jsonText(text), binary };
  }
  if (typeof body === 'string') return { json: jsonText(body), binary: undefined };
  return { json: body, binary: undefined };
}

/** Checks every input's name, datatype, shape and data source before any data is read. */
function planInputs(
  inputs: readonly unknown[],
  signature: ModelSignature,
  maxBatchSize: number,
): InputPlan[] {
  const index = indexOf(signature);
  const seen = new Map<string, number>();
  const plans: InputPlan[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const path = `inputs[${i}]`;
    const input = expectObject(inputs[i], path);

    const name = own(input, 'name');
    if (typeof name !== 'string')
      throw new InferenceRequestError(`${path}.name: expected a string, got ${formatValue(name)}`);
    const slot = index.inputs.get(name);
    if (slot === undefined) {
      throw new InferenceRequestError(
        `${path}.name: unknown input ${formatValue(name)}; the model's inputs are ${formatNames(signature.inputs.map((t) => t.name))}`,
      );
    }
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      throw new InferenceRequestError(
        `${path}.name: duplicate input ${JSON.stringify(name)}, also given as inputs[${earlier}]`,
      );
    }
    seen.set(name, i);
    const expected = signature.inputs[slot]!;

    const datatype = own(input, 'datatype');
    if (datatype !== expected.datatype) {
      const given = isDatatype(datatype) ? datatype : formatValue(datatype);
      throw new InferenceRequestError(
        `${path}.datatype: expected ${expected.datatype}, got ${given}`,
      );
    }

    const shape = readShape(own(input, 'shape'), expected.shape, `${path}.shape`);
    if (signature.batchable) checkRows(shape, plans[0], path, maxBatchSize);
    let count = 1;
    for (const d of shape) count *= d;

    const params = readParameters(own(input, 'parameters'), `${path}.parameters`);
    const size = params?.['binary_data_size'];
    const data = own(input, 'data');
    if (size !== undefined && (!Number.isSafeInteger(size) || (size as number) < 0)) {
      throw new InferenceRequestError(
        `${path}.parameters.binary_data_size: expected a non-negative integer, got ${formatValue(size)}`,
      );
    }
    if (size !== undefined && data !== undefined) {
      throw new InferenceRequestError(
        `${path}: give either data or parameters.binary_data_size, not both`,
      );
    }
    plans.push({
      path,
      slot,
      name,
      datatype: expected.datatype,
      shape,
      count,
      data,
      binarySize: size as number | undefined,
    });
  }
  if (plans.length < signature.inputs.length) {
    const missing = signature.inputs.find((t) => !seen.has(t.name))!;
    throw new InferenceRequestError(
      `inputs: missing input ${JSON.stringify(missing.name)}; the model's inputs are ${formatNames(signature.inputs.map((t) => t.name))}`,
    );
  }
  return plans;
}

/** The request's shape, checked to be whole numbers matching the model's shape (-1 matching any size). */
function readShape(value: unknown, expected: readonly number[], path: string): number[] {
  if (!Array.isArray(value) || !value.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    const given = Array.isArray(value) ? formatShape(value) : formatValue(value);
    throw new InferenceRequestError(
      `${path}: expected an array of non-negative integers, got ${given}`,
    );
  }
  const shape = value.slice() as number[];
  if (shape.length !== expected.length || expected.some((d, i) => d !== -1 && d !== shape[i])) {
    throw new InferenceRequestError(
      `${path}: expected ${formatShape(expected)}, got ${formatShape(shape)}`,
    );
  }
  return shape;
}

/** For batchable models: the first dimension is the row count, at least 1, shared by all inputs, within the limit. */
function checkRows(
  shape: readonly number[],
  first: InputPlan | undefined,
  path: string,
  maxBatchSize: number,
): void {
  const rows = shape[0];
  if (rows === undefined) return; // A batchable model's inputs all have a first dimension; readShape enforced the rank.
  if (rows === 0)
    throw new InferenceRequestError(`${path}.shape[0] is 0: a request needs at least one row`);
  if (first !== undefined) {
    if (rows !== first.shape[0]) {
      throw new InferenceRequestError(
        `${path}.shape[0]: expected ${first.shape[0]} rows, as in ${first.path}, got ${rows}`,
      );
    }
    return;
  }
  if (maxBatchSize > 0 && rows > maxBatchSize) {
    throw new BatchTooLargeError(
      `${path}.shape[0]: ${rows} rows exceed the model's max_batch_size of ${maxBatchSize}`,
    );
  }
}

/** The outputs to return: those the request names, or all of the model's. */
function readOutputs(
  value: unknown,
  signature: ModelSignature,
  binaryDataOutput: boolean,
): readonly RequestedOutput[] {
  // An empty list is read like an absent one, as "no preference": a request for nothing is never useful.
  if (value === undefined || (Array.isArray(value) && value.length === 0)) {
    return indexOf(signature).allOutputs[binaryDataOutput ? 1 : 0];
  }
  if (!Array.isArray(value))
    throw new InferenceRequestError(`outputs: expected an array, got ${formatValue(value)}`);
  const index = indexOf(signature).outputs;
  const seen = new Map<string, number>();
  return value.map((item, i) => {
    const path = `outputs[${i}]`;
    const output = expectObject(item, path);
    const name = own(output, 'name');
    if (typeof name !== 'string')
      throw new InferenceRequestError(`${path}.name: expected a string, got ${formatValue(name)}`);
    if (!index.has(name)) {
      throw new InferenceRequestError(
        `${path}.name: unknown output ${formatValue(name)}; the model's outputs are ${formatNames(signature.outputs.map((t) => t.name))}`,
      );
    }
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      throw new InferenceRequestError(
        `${path}.name: duplicate output ${JSON.stringify(name)}, also given as outputs[${earlier}]`,
      );
    }
    seen.set(name, i);
    const params = readParameters(own(output, 'parameters'), `${path}.parameters`);
    // Per the extension, an output's own binary_data overrides the request's binary_data_output.
    const binary =
      readBooleanParameter(params, 'binary_data', `${path}.parameters`) ?? binaryDataOutput;
    return { name, binary };
  });
}

/** Each binary input's bytes, taken from the binary data in input order; the sizes must use it exactly. */
function binarySegments(
  plans: readonly InputPlan[],
  binary: Uint8Array | undefined,
): Map<InputPlan, Uint8Array> {
  const segments = new Map<InputPlan, Uint8Array>();
  let offset = 0;
  for (const plan of plans) {
    if (plan.binarySize === undefined) continue;
    if (binary === undefined) {
      throw new InferenceRequestError(
        `${plan.path}.parameters.binary_data_size: the request has no binary data (no Inference-Header-Content-Length header with a binary body)`,
      );
    }
    if (plan.binarySize > binary.length - offset) {
      throw new InferenceRequestError(
        `${plan.path}.parameters.binary_data_size: ${plan.binarySize} bytes, but only ${binary.length - offset} bytes of binary data remain`,
      );
    }
    segments.set(plan, binary.subarray(offset, offset + plan.binarySize));
    offset += plan.binarySize;
  }
  if (binary !== undefined && offset !== binary.length) {
    throw new InferenceRequestError(
      `body: ${binary.length} bytes of binary data follow the JSON header, but the inputs' binary_data_size add up to ${offset}`,
    );
  }
  return segments;
}
