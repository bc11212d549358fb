/**
 * The serving side's shared types: tensors as the Open Inference Protocol (KServe v2 / Triton)
 * describes them, decoded into typed arrays ready for onnxruntime.
 *
 * @module
 */
import type { Datatype, TensorDescription } from '../model/tensor-description.js';

/** Tensor data, decoded: one typed array per numeric datatype, strings for BYTES, 0/1 bytes for BOOL. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | string[];

/** A decoded tensor: flat row-major data and its shape (the first dimension is the batch). */
export interface Tensor {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

/** What the server knows of a loaded model version's signature. */
export interface ModelSignature {
  readonly inputs: readonly TensorDescription[];
  readonly outputs: readonly TensorDescription[];
  /**
   * True when every input and output has a dynamic first dimension, so requests can be merged
   * along it. Models without one are run one request at a time.
   */
  readonly batchable: boolean;
}

/** A validated inference request, ready to merge into a run (see instances/infer-batch.ts). */
export interface InferenceWork {
  /** Inputs in the model's input order, each with the request's batch size as its first dimension. */
  readonly inputs: readonly Tensor[];
  /** Output names to compute (all when the request named none). */
  readonly outputs: readonly string[];
  /** Rows in this request: the first dimension shared by its inputs (1 for non-batchable models). */
  readonly rows: number;
}
