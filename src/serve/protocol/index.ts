/**
 * The Open Inference Protocol (KServe v2 / Triton) codec: pure functions from request bodies to
 * validated tensors and from output tensors to response bodies, plus merging and splitting batches.
 * No HTTP framework inside; the server calls these.
 *
 * @module
 */

/** Decodes and validates an inference request (JSON or binary extension) against a model signature. */
export { decodeInferRequest } from './decode-request.js';
export type {
  DecodedRequest,
  DecodeOptions,
  RequestedOutput,
  RequestHeaders,
} from './decode-request.js';

/** Encodes an inference response as JSON text, or as the binary extension's JSON header plus bytes. */
export { encodeInferResponse } from './encode-response.js';
export type { EncodedResponse, InferResponse } from './encode-response.js';

/** Merges requests' inputs into a batch, splits a batch's outputs, and keys which requests may share a batch. */
export { mergeRows, signatureKey, splitRows } from './split-merge.js';

/** Datatype facts: element sizes, typed arrays, onnxruntime type names, FP16 conversion. */
export {
  datatypeFromOnnx,
  datatypeInfo,
  elementByteSize,
  floatToHalfBits,
  halfBitsToFloat,
  isDatatype,
  ortTensorType,
} from './datatypes.js';
export type {
  DatatypeInfo,
  NumericArrayConstructor,
  NumericTensorData,
  OrtTensorType,
  ValueKind,
} from './datatypes.js';
