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
}

/** Main → worker: run one batch. */
export interface RunMessage {
  readonly type: 'run';
  readonly id: number;
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly string[];
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
export type ToWorker = RunMessage | StallMessage | CloseMessage;

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
export type FromWorker = ReadyMessage | LoadFailedMessage | ResultMessage | RunFailedMessage;

/**
 * The buffers to transfer with `tensors`: each typed array's buffer, which must be one it owns
 * whole (see `ownedTensor`). Strings have none: they are cloned.
 */
export function transferListOf(tensors: readonly Tensor[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const t of tensors) {
    if (!Array.isArray(t.data)) buffers.add((t.data as Exclude<Tensor['data'], string[]>).buffer as ArrayBuffer);
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
  const whole = typed.buffer instanceof ArrayBuffer && typed.byteOffset === 0 && typed.byteLength === typed.buffer.byteLength;
  return whole ? tensor : { ...tensor, data: typed.slice() };
}
