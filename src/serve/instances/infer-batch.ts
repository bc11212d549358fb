/**
 * An instance's side of dynamic batching: answers a batch of raw inference requests.
 *
 * The HTTP thread hands the batcher's batches over as raw request bodies, and the instance's
 * thread does the payload work: it decodes and checks each request against the model, merges the
 * good ones along the batch dimension, runs them, splits the outputs and encodes each response. So
 * the HTTP thread does HTTP alone, and the payload work of N instances runs on N threads, not on
 * the one event loop every request shares (measured: JSON parsing and validation were the largest
 * part of the HTTP thread's cost per request over a bare Fastify server's).
 *
 * Triton's semantics hold: requests merge in arrival order up to `maxBatchSize` rows; requests whose
 * inputs differ beyond the first dimension, or that ask for other outputs, never share a run; a bad
 * request is answered with its error before any run, so it never joins one.
 *
 * @module
 */
import { BatchTooLargeError, InferenceRequestError } from '../../errors.js';
import {
  decodeInferRequest,
  type DecodedRequest,
  type RequestedOutput,
  type RequestHeaders,
} from '../protocol/decode-request.js';
import { encodeInferResponse } from '../protocol/encode-response.js';
import { mergeRows, signatureKey, splitRows } from '../protocol/split-merge.js';
import type { ModelSignature, Tensor } from '../types.js';
import {
  kAnswerBadRequest,
  kAnswerBinary,
  kAnswerJson,
  kAnswerRunFailed,
  kAnswerTooLarge,
  type AnswerKind,
  type PackedBytes,
} from './messages.js';

/** One request as the HTTP thread received it. */
export interface RawRequest {
  readonly body: Uint8Array;
  /** Its `Inference-Header-Content-Length` header (the binary extension), if it had one. */
  readonly headerLength?: string | undefined;
}

/** How one request was answered. */
export type Answer =
  | {
      readonly kind: typeof kAnswerJson | typeof kAnswerBinary;
      readonly body: string | Buffer;
      /** For the binary extension, the JSON header's size in bytes. */
      readonly headerLength: number;
      readonly rows: number;
    }
  | {
      readonly kind: typeof kAnswerBadRequest | typeof kAnswerTooLarge | typeof kAnswerRunFailed;
      readonly message: string;
    };

/** What answering a batch needs. */
export interface BatchContext {
  readonly signature: ModelSignature;
  readonly modelName: string;
  readonly modelVersion: string;
  /** Most rows in one run and in one request; 0 runs each request alone. */
  readonly maxBatchSize: number;
  /** JSON `null` in FP inputs is a missing value (NaN). */
  readonly missingAsNaN?: boolean;
  /** Runs merged inputs; resolves with the named outputs, in that order. */
  run(inputs: readonly Tensor[], outputs: readonly string[]): Promise<Tensor[]>;
}

/** Each request's answer, in order, and the rows of every run together. */
export interface AnsweredBatch {
  readonly answers: Answer[];
  readonly runRows: number;
}

const kNoHeaders: RequestHeaders = Object.freeze({});

/**
 * Answers a batch of requests: decodes each, runs the good ones in as few merged runs as the
 * batching rules allow (one after another), and encodes each response.
 * @returns an answer per request, in order; never rejects for a request's fault or onnxruntime's.
 */
export async function answerBatch(
  requests: readonly RawRequest[],
  context: BatchContext,
): Promise<AnsweredBatch> {
  const { signature } = context;
  const max = signature.batchable ? context.maxBatchSize : 0;
  const answers = new Array<Answer>(requests.length);
  const decoded = new Array<DecodedRequest>(requests.length);
  // Requests that may share a run, by signature key, in arrival order.
  const groups = new Map<string, number[]>();
  for (let i = 0; i < requests.length; i++) {
    const request = requests[i]!;
    try {
      const headers =
        request.headerLength === undefined
          ? kNoHeaders
          : { 'inference-header-content-length': request.headerLength };
      const d = decodeInferRequest(request.body, headers, signature, {
        maxBatchSize: max,
        missingAsNaN: context.missingAsNaN === true,
      });
      decoded[i] = d;
      // Without batching every request runs alone: a key of its own.
      const key = max > 0 ? signatureKey(d.work) : `#${i}`;
      const group = groups.get(key);
      if (group === undefined) groups.set(key, [i]);
      else group.push(i);
    } catch (err) {
      answers[i] = requestError(err);
    }
  }
  let runRows = 0;
  for (const members of groups.values()) {
    let start = 0;
    while (start < members.length) {
      // The longest run from `start` within the row limit (a request alone may be any size).
      let rows = decoded[members[start]!]!.work.rows;
      let end = start + 1;
      while (end < members.length && max > 0 && rows + decoded[members[end]!]!.work.rows <= max) {
        rows += decoded[members[end]!]!.work.rows;
        end++;
      }
      await answerRun(members.slice(start, end), decoded, answers, context);
      runRows += rows;
      start = end;
    }
  }
  return { answers, runRows };
}

/** Runs one merged run and answers its requests. */
async function answerRun(
  members: readonly number[],
  decoded: readonly DecodedRequest[],
  answers: Answer[],
  context: BatchContext,
): Promise<void> {
  const first = decoded[members[0]!]!;
  const fail = (message: string): void => {
    for (const i of members) answers[i] = { kind: kAnswerRunFailed, message };
  };
  let outputs: Tensor[];
  try {
    const inputs =
      members.length === 1
        ? first.work.inputs
        : mergeRows(members.map((i) => decoded[i]!.work.inputs));
    outputs = await context.run(inputs, first.work.outputs);
  } catch (err) {
    fail(`onnxruntime failed to run the batch: ${errorMessage(err)}`);
    return;
  }
  let parts: Tensor[][];
  try {
    // Views: each response is encoded at once, so none needs buffers of its own.
    parts =
      members.length === 1
        ? [outputs]
        : splitRows(
            outputs,
            members.map((i) => decoded[i]!.work.rows),
          );
  } catch (err) {
    fail(
      `${errorMessage(err)}: the model's outputs cannot be split per request; serve it with maxBatchSize 0`,
    );
    return;
  }
  for (let k = 0; k < members.length; k++) {
    const i = members[k]!;
    const request = decoded[i]!;
    const response = encodeInferResponse({
      modelName: context.modelName,
      modelVersion: context.modelVersion,
      id: request.id,
      outputs: parts[k]!,
      binary: binaryOutputs(request.outputs),
    });
    const headerLength = response.headers['inference-header-content-length'];
    answers[i] =
      headerLength === undefined
        ? { kind: kAnswerJson, body: response.body, headerLength: 0, rows: request.work.rows }
        : {
            kind: kAnswerBinary,
            body: response.body,
            headerLength: Number(headerLength),
            rows: request.work.rows,
          };
  }
}

function requestError(err: unknown): Answer {
  if (err instanceof BatchTooLargeError) return { kind: kAnswerTooLarge, message: err.message };
  if (err instanceof InferenceRequestError)
    return { kind: kAnswerBadRequest, message: err.message };
  // Not the request's fault: a bug in decoding. Answered as the instance's failure, with what happened.
  return {
    kind: kAnswerRunFailed,
    message: `the model instance failed to decode the request: ${errorMessage(err)}`,
  };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Which outputs go back as binary data, per outputs list: the decoder shares one list among most requests. */
const binaryByOutputs = new WeakMap<
  readonly RequestedOutput[],
  Readonly<Record<string, boolean>>
>();

function binaryOutputs(outputs: readonly RequestedOutput[]): Readonly<Record<string, boolean>> {
  let binary = binaryByOutputs.get(outputs);
  if (binary === undefined) {
    const record: Record<string, boolean> = {};
    for (const o of outputs) record[o.name] = o.binary;
    binary = record;
    // Only frozen lists are shared: a request's own list is not worth an entry.
    if (Object.isFrozen(outputs)) binaryByOutputs.set(outputs, binary);
  }
  return binary;
}

/** A batch's answers in the wire layout of `InferredMessage`, in fresh buffers to transfer. */
export interface PackedAnswers {
  readonly answers: PackedBytes;
  readonly kinds: Uint8Array;
  readonly rows: Uint32Array;
  readonly headerLengths: Uint32Array;
}

/** Packs answers: every body or message written once, straight into one buffer. */
export function packAnswers(answers: readonly Answer[]): PackedAnswers {
  const n = answers.length;
  const kinds = new Uint8Array(n);
  const rows = new Uint32Array(n);
  const headerLengths = new Uint32Array(n);
  const ends = new Uint32Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const a = answers[i]!;
    total += isResponse(a) ? byteLength(a.body) : Buffer.byteLength(a.message);
    ends[i] = total;
  }
  const bytes = new Uint8Array(total);
  const out = Buffer.from(bytes.buffer, 0, total);
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const a = answers[i]!;
    kinds[i] = a.kind satisfies AnswerKind;
    if (isResponse(a)) {
      rows[i] = a.rows;
      headerLengths[i] = a.headerLength;
      if (typeof a.body === 'string') out.write(a.body, offset, 'utf8');
      else out.set(a.body, offset);
    } else {
      out.write(a.message, offset, 'utf8');
    }
    offset = ends[i]!;
  }
  return { answers: { bytes, ends }, kinds, rows, headerLengths };
}

function isResponse(a: Answer): a is Extract<Answer, { body: unknown }> {
  return a.kind === kAnswerJson || a.kind === kAnswerBinary;
}

function byteLength(body: string | Buffer): number {
  return typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length;
}
