/**
 * The message protocol between an instance pool (main thread) and its instance workers: one typed
 * union per direction, plus transfer helpers. Imported by the worker, so it
 * must stay free of main-side code.
 *
 * @module
 */
import type { Tensor } from '../types.js';

/** What a worker is started with (`workerData`). */
export interface InstanceWorkerData {
  /** Slot number of the instance, for messages. */
  readonly instance: number;
  /** The serialized ONNX model. Each worker gets its own copy: onnxruntime will not load from shared memory. */
  readonly modelBytes: Uint8Array;
  readonly intraOpThreads: number;
  readonly allowSpinning: boolean;
  /** An Int32 the worker adds 1 to each time it has answered a job: the pool's "is it free" without a message. */
  readonly done: SharedArrayBuffer;
  /** Test hook: block this long before loading, as a hung load would. */
  readonly loadStallMs?: number;
}

/** Main → worker: run one batch. */
export interface RunMessage {
  readonly type: 'run';
  readonly id: number;
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly string[];
}

/**
 * Main → worker: answer a batch of inference requests, given as their raw bodies. The worker
 * decodes and checks each against the model, merges the good ones into runs of at most
 * `maxBatchSize` rows (requests whose inputs differ beyond the first dimension, or that ask for
 * other outputs, in runs of their own), runs them, and encodes each request's response.
 */
export interface InferMessage {
  readonly type: 'infer';
  readonly id: number;
  /** The model name and version the responses carry. */
  readonly modelName: string;
  readonly modelVersion: string;
  /** Most rows in one run, and in one request; 0 runs each request alone, with no row limit. */
  readonly maxBatchSize: number;
  /** JSON `null` in FP inputs is a missing value (NaN): the model imputes it (see decode-request.ts). */
  readonly missingAsNaN?: boolean;
  /** The requests: their bodies, back to back in one buffer (transferred), and where each ends. */
  readonly requests: PackedBytes;
  /**
   * Each request's `Inference-Header-Content-Length` header (the binary extension), where any
   * request has one; undefined when none has.
   */
  readonly headerLengths?: readonly (string | undefined)[];
}

/**
 * Byte strings packed back to back in one buffer, so that a whole batch of them crosses between
 * threads as one transferred ArrayBuffer: structured clone of each would copy, and a Buffer that is
 * a view into Node's shared 8 KB pool would copy the whole pool.
 */
export interface PackedBytes {
  readonly bytes: Uint8Array;
  /** `ends[i]` is where item i ends in `bytes`; item i starts where item i - 1 ends. */
  readonly ends: Uint32Array;
}

/** How a request of an `infer` batch was answered. */
export const kAnswerJson = 0;
/** The binary tensor data extension: JSON header, then bytes; `headerLengths[i]` is the header's size. */
export const kAnswerBinary = 1;
/** The request is malformed or does not fit the model (400); the bytes are the message. */
export const kAnswerBadRequest = 2;
/** The request holds more rows than the model's max_batch_size (400); the bytes are the message. */
export const kAnswerTooLarge = 3;
/** Its run failed in onnxruntime (500); the bytes are the message. */
export const kAnswerRunFailed = 4;
export type AnswerKind =
  | typeof kAnswerJson
  | typeof kAnswerBinary
  | typeof kAnswerBadRequest
  | typeof kAnswerTooLarge
  | typeof kAnswerRunFailed;

/** Worker → main: the answers of an `infer` batch, in request order. */
export interface InferredMessage {
  readonly type: 'inferred';
  readonly id: number;
  /** Each answer's bytes: a response body, or an error message (UTF-8). */
  readonly answers: PackedBytes;
  /** Each answer's kind (`kAnswer…`). */
  readonly kinds: Uint8Array;
  /** Rows of each answered request (0 for errors). */
  readonly rows: Uint32Array;
  /** For a binary-extension answer, the size of its JSON header in bytes; else 0. */
  readonly headerLengths: Uint32Array;
  /** Rows in the batch's runs, all together. */
  readonly runRows: number;
  /** How long the worker took over the batch, decoding and encoding included, in ms. */
  readonly workMs: number;
}

/**
 * Main → worker, test hook: block the thread for `sleepMs` as a long synchronous onnxruntime run
 * would, then answer with no outputs, or exit with `exitCode` to simulate a crash mid-batch.
 */
export interface StallMessage {
  readonly type: 'stall';
  readonly id: number;
  readonly sleepMs: number;
  readonly exitCode?: number;
}

/** Main → worker: release the session and let the thread end. */
export interface CloseMessage {
  readonly type: 'close';
}

/** Every message the main side sends. */
export type ToWorker = RunMessage | InferMessage | StallMessage | CloseMessage;

/** A model input or output as onnxruntime describes it: its type name and dimensions, symbolic ones as strings. */
export interface RawValueMetadata {
  readonly name: string;
  /** onnxruntime's tensor type (`float32`, `int64`, `string`, ...), or undefined for a non-tensor value. */
  readonly type?: string;
  readonly shape: readonly (number | string)[];
}

/** Worker → main: the session is loaded. */
export interface ReadyMessage {
  readonly type: 'ready';
  readonly inputs: readonly RawValueMetadata[];
  readonly outputs: readonly RawValueMetadata[];
}

/** Worker → main: onnxruntime could not load the model. The worker ends after sending it. */
export interface LoadFailedMessage {
  readonly type: 'load-failed';
  readonly message: string;
}

/** Worker → main: a batch finished; outputs in the requested order. */
export interface ResultMessage {
  readonly type: 'result';
  readonly id: number;
  readonly outputs: readonly Tensor[];
}

/** Worker → main: onnxruntime failed to run a batch. */
export interface RunFailedMessage {
  readonly type: 'run-failed';
  readonly id: number;
  readonly message: string;
}

/** Every message a worker sends. */
export type FromWorker =
  ReadyMessage | LoadFailedMessage | ResultMessage | InferredMessage | RunFailedMessage;

/**
 * The buffers to transfer with `tensors`: each typed array's buffer, which must be one it owns
 * whole (see `ownedTensor`). Strings have none: they are cloned.
 */
export function transferListOf(tensors: readonly Tensor[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const t of tensors) {
    if (!Array.isArray(t.data))
      buffers.add((t.data as Exclude<Tensor['data'], string[]>).buffer as ArrayBuffer);
  }
  return [...buffers];
}

/**
 * `tensor`, with data that can be transferred without harming anyone: a typed array that spans a
 * whole, unshared ArrayBuffer is kept as it is; a view into a larger or shared buffer (a slice of
 * a request body, say) is copied first, since transferring its buffer would detach memory that
 * other code still uses.
 */
export function ownedTensor(tensor: Tensor): Tensor {
  const data = tensor.data;
  if (Array.isArray(data)) return tensor;
  const typed = data as Exclude<Tensor['data'], string[]>;
  const whole =
    typed.buffer instanceof ArrayBuffer &&
    typed.byteOffset === 0 &&
    typed.byteLength === typed.buffer.byteLength;
  return whole ? tensor : { ...tensor, data: typed.slice() };
}

/** Packs byte strings into one fresh buffer of their own (see `PackedBytes`). */
export function packBytes(items: readonly Uint8Array[]): PackedBytes {
  let total = 0;
  for (const item of items) total += item.length;
  // Not Buffer.allocUnsafe: small ones come from the shared pool, which cannot be transferred.
  const bytes = new Uint8Array(total);
  const ends = new Uint32Array(items.length);
  let offset = 0;
  for (let i = 0; i < items.length; i++) {
    bytes.set(items[i]!, offset);
    offset += items[i]!.length;
    ends[i] = offset;
  }
  return { bytes, ends };
}

/** Item `i` of packed bytes, as a Buffer view (no copy). */
export function packedItem(packed: PackedBytes, i: number): Buffer {
  const start = i === 0 ? 0 : packed.ends[i - 1]!;
  return Buffer.from(packed.bytes.buffer, packed.bytes.byteOffset + start, packed.ends[i]! - start);
}
