/**
 * The protocol's gRPC messages as proto-loader hands them over (see proto-files.ts: snake_case
 * names, 64-bit integers as decimal strings, defaults filled), for the fields mlscale reads.
 *
 * @module
 */

/** `inference.InferParameter`: one of its choices, named by `parameter_choice`. */
export interface InferParameter {
  readonly parameter_choice?: string;
  readonly bool_param?: boolean;
  readonly int64_param?: string;
  readonly string_param?: string;
  readonly double_param?: number;
  readonly uint64_param?: string;
}

/** `inference.InferTensorContents`: typed elements, in the field of the tensor's datatype. */
export interface InferTensorContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: string[];
  uint_contents?: number[];
  uint64_contents?: string[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Uint8Array[];
}

export interface InferInputTensor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly string[];
  readonly parameters: Readonly<Record<string, InferParameter>>;
  readonly contents: InferTensorContents | null;
}

export interface InferRequestedOutputTensor {
  readonly name: string;
  readonly parameters: Readonly<Record<string, InferParameter>>;
}

/** `inference.ModelInferRequest`. */
export interface ModelInferRequest {
  readonly model_name: string;
  readonly model_version: string;
  readonly id: string;
  readonly parameters: Readonly<Record<string, InferParameter>>;
  readonly inputs: readonly InferInputTensor[];
  readonly outputs: readonly InferRequestedOutputTensor[];
  readonly raw_input_contents: readonly Uint8Array[];
}

export interface InferOutputTensor {
  name: string;
  datatype: string;
  shape: (number | string)[];
  parameters: Record<string, InferParameter>;
  contents?: InferTensorContents;
}

/** `inference.ModelInferResponse`. */
export interface ModelInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, InferParameter>;
  outputs: InferOutputTensor[];
  raw_output_contents: Uint8Array[];
}

/** The typed-contents field that holds a datatype's elements; FP16 and BF16 have none (raw only). */
export const kContentsField: Readonly<Record<string, keyof InferTensorContents>> = Object.freeze({
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
});
