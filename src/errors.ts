/**
 * Coded errors shared by every part of mlscale.
 *
 * Every error a user can meet is an `MlscaleError` subclass with a stable `code`
 * (listed in docs/errors.md), the HTTP status it maps to, and an optional `cause`.
 * Codes are never reused: a retired code stays retired.
 *
 * @module
 */

/** Options accepted by every error constructor. */
export interface MlscaleErrorOptions {
  /** The lower-level error that led to this one. */
  cause?: unknown;
}

/** Base class: a message for people, a stable code for programs. */
export abstract class MlscaleError extends Error {
  /** Stable, documented identifier, e.g. `E_DATA_PARSE`. */
  abstract readonly code: string;
  /** HTTP status this error maps to when it reaches an HTTP client. */
  readonly status: number = 500;

  constructor(message: string, options: MlscaleErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** A command-line flag or option has a value that is not allowed. */
export class InvalidOptionError extends MlscaleError {
  readonly code = 'E_INVALID_OPTION';
  override readonly status = 400;
  /**
   * The option the message names as `options.<option>` (a library call's option), which the
   * command line shows as its flag (`--max-batch-size` for `maxBatchSize`).
   */
  readonly option?: string;

  constructor(message: string, options: MlscaleErrorOptions & { option?: string } = {}) {
    super(message, options);
    if (options.option !== undefined) this.option = options.option;
  }
}

/** A data file does not exist or cannot be read. */
export class DataNotFoundError extends MlscaleError {
  readonly code = 'E_DATA_NOT_FOUND';
  override readonly status = 404;
}

/** A data file has no rows (or no header). */
export class DataEmptyError extends MlscaleError {
  readonly code = 'E_DATA_EMPTY';
  override readonly status = 400;
}

/** A row cannot be parsed: wrong number of fields, malformed JSON, bad quoting. Names file:line. */
export class DataParseError extends MlscaleError {
  readonly code = 'E_DATA_PARSE';
  override readonly status = 400;
}

/** A value is not allowed where it stands: text in a numeric column, NaN, Infinity. Names file:line and column. */
export class DataValueError extends MlscaleError {
  readonly code = 'E_DATA_VALUE';
  override readonly status = 400;
}

/** The label column named by the user is not in the data. The message lists the columns. */
export class LabelNotFoundError extends MlscaleError {
  readonly code = 'E_LABEL_NOT_FOUND';
  override readonly status = 400;
}

/** A classification dataset has fewer than two classes. */
export class SingleClassError extends MlscaleError {
  readonly code = 'E_SINGLE_CLASS';
  override readonly status = 400;
}

/** A tensor or batch has the wrong shape. */
export class ShapeError extends MlscaleError {
  readonly code = 'E_SHAPE';
  override readonly status = 400;
}

/** A `--stages` module cannot be loaded or does not export what a stages module must. */
export class StagesModuleError extends MlscaleError {
  readonly code = 'E_STAGES_MODULE';
  override readonly status = 400;
}

/** A task failed inside an executor; names the batch. */
export class TaskFailedError extends MlscaleError {
  readonly code = 'E_TASK_FAILED';
  override readonly status = 500;
  /** Id of the batch whose task failed. */
  readonly batchId: number;

  constructor(message: string, batchId: number, options: MlscaleErrorOptions = {}) {
    super(message, options);
    this.batchId = batchId;
  }
}

/** Training produced non-finite numbers (the loss diverged). */
export class TrainingDivergedError extends MlscaleError {
  readonly code = 'E_TRAINING_DIVERGED';
  override readonly status = 500;
}

/** A model artifact folder is missing files or has an unreadable `metadata.json`. */
export class ArtifactError extends MlscaleError {
  readonly code = 'E_ARTIFACT';
  override readonly status = 500;
}

/** An executor was used after `close()`. */
export class ExecutorClosedError extends MlscaleError {
  readonly code = 'E_EXECUTOR_CLOSED';
  override readonly status = 503;
}

/** An inference request is malformed or does not fit the model; the message names the JSON path. */
export class InferenceRequestError extends MlscaleError {
  readonly code = 'E_INFERENCE_REQUEST';
  override readonly status = 400;
}

/** A request holds more rows than the model's `max_batch_size`. */
export class BatchTooLargeError extends MlscaleError {
  readonly code = 'E_BATCH_TOO_LARGE';
  override readonly status = 400;
}

/** A request body is larger than the server accepts. */
export class PayloadTooLargeError extends MlscaleError {
  readonly code = 'E_PAYLOAD_TOO_LARGE';
  override readonly status = 413;
}

/** A request body's `Content-Encoding` is not one the server decodes (gzip, deflate, br, identity). */
export class UnsupportedEncodingError extends MlscaleError {
  readonly code = 'E_UNSUPPORTED_ENCODING';
  override readonly status = 415;
}

/** No model (or no such version of it) in the repository. */
export class ModelNotFoundError extends MlscaleError {
  readonly code = 'E_MODEL_NOT_FOUND';
  override readonly status = 404;
}

/** The model exists but cannot answer now (loading, failed to load, unloading, instances wedged). */
export class ModelNotReadyError extends MlscaleError {
  readonly code = 'E_MODEL_NOT_READY';
  override readonly status = 503;
}

/** A model could not be loaded: unreadable file, invalid ONNX, bad config.json. */
export class ModelLoadError extends MlscaleError {
  readonly code = 'E_MODEL_LOAD';
  override readonly status = 400;
}

/**
 * The model's queue is full: the request is shed at once (load shedding) instead of waiting without
 * bound. Maps to 503 with Retry-After; clients should back off and retry.
 */
export class QueueFullError extends MlscaleError {
  readonly code = 'E_QUEUE_FULL';
  override readonly status = 503;
}

/** A request waited and ran longer than its timeout. */
export class RequestTimeoutError extends MlscaleError {
  readonly code = 'E_REQUEST_TIMEOUT';
  override readonly status = 504;
}

/** A model instance failed to run a batch (onnxruntime error, or the instance thread died). */
export class InstanceFailedError extends MlscaleError {
  readonly code = 'E_INSTANCE_FAILED';
  override readonly status = 500;
}

/** The server is shutting down and takes no new work. */
export class ShuttingDownError extends MlscaleError {
  readonly code = 'E_SHUTTING_DOWN';
  override readonly status = 503;
}

/**
 * The client closed its connection before its answer was ready; a request still queued is dropped
 * unrun. 499 is nginx's "client closed request": no one receives it, but logs and metrics do.
 */
export class ClientClosedError extends MlscaleError {
  readonly code = 'E_CLIENT_CLOSED';
  override readonly status = 499;
}

/** An admin endpoint was called without the right bearer token. */
export class UnauthorizedError extends MlscaleError {
  readonly code = 'E_UNAUTHORIZED';
  override readonly status = 401;
}

/** An endpoint that is turned off (the repository API without --admin-token or with it disabled). */
export class ForbiddenError extends MlscaleError {
  readonly code = 'E_FORBIDDEN';
  override readonly status = 403;
}

/** A request body in a media type the endpoint does not take (the repository API takes JSON only). */
export class UnsupportedMediaTypeError extends MlscaleError {
  readonly code = 'E_UNSUPPORTED_MEDIA_TYPE';
  override readonly status = 415;
}

/** More request bytes are in flight than the server's budget allows (`maxBytesInFlight`): retry later. */
export class ServerBusyError extends MlscaleError {
  readonly code = 'E_SERVER_BUSY';
  override readonly status = 503;
}

/** Redis cannot be reached (wrong URL, refused, unknown host, bad password) or went away for too long mid-run. */
export class RedisUnavailableError extends MlscaleError {
  readonly code = 'E_REDIS_UNAVAILABLE';
  override readonly status = 503;
}

/** A distributed worker runs a different mlscale version from the driver's, so it refuses the job. */
export class WorkerIncompatibleError extends MlscaleError {
  readonly code = 'E_WORKER_INCOMPATIBLE';
  override readonly status = 500;
}

/**
 * A sweep file cannot be used: missing or unreadable, not JSON (the message names line and
 * column), not a sweep (wrong kind, a field of the wrong type: names the JSON path), or a grid that
 * is empty or inconsistent (e.g. two results for the same configuration).
 */
export class SweepFileError extends MlscaleError {
  readonly code = 'E_SWEEP_FILE';
  override readonly status = 400;
}

/** A sweep file was written by another version of the sweep format; names the file and both versions. */
export class SweepVersionError extends MlscaleError {
  readonly code = 'E_SWEEP_VERSION';
  override readonly status = 400;
}

/**
 * A server that a command starts or measures cannot be reached: it exited before it was ready, a
 * model failed to load, or it did not answer in time; names the command or URL and the reason.
 */
export class ServerUnreachableError extends MlscaleError {
  readonly code = 'E_SERVER_UNREACHABLE';
  override readonly status = 502;
}

/**
 * `mlscale load` (or `runLoad`) cannot connect to its target URL before the run: refused, unknown
 * host, or no answer within the connect timeout; names the URL and the OS error.
 */
export class LoadTargetUnreachableError extends MlscaleError {
  readonly code = 'E_LOAD_TARGET_UNREACHABLE';
  override readonly status = 502;
}

/**
 * A file given as an ONNX model is not one: it does not decode as an ONNX ModelProto, or decodes
 * to something with no graph (a CSV, a JSON file, an archive). Names the file.
 */
export class NotOnnxError extends MlscaleError {
  readonly code = 'E_NOT_ONNX';
  override readonly status = 400;
}

/**
 * An ONNX model file is damaged: it starts as an ONNX model but cannot be decoded to the end
 * (truncated, overwritten), or onnxruntime refuses its graph. Names the file and the reason.
 */
export class OnnxCorruptError extends MlscaleError {
  readonly code = 'E_ONNX_CORRUPT';
  override readonly status = 400;
}

/**
 * `mlscale optimize --int8` was asked of a model with no MatMul or Gemm whose weights are a
 * constant float tensor: there is nothing dynamic quantisation can act on. Lists what was found.
 */
export class NothingToQuantizeError extends MlscaleError {
  readonly code = 'E_NOTHING_TO_QUANTIZE';
  override readonly status = 400;
}

/** Every error class, for the registry test and for documentation. */
export const errorClasses = [
  InvalidOptionError,
  DataNotFoundError,
  DataEmptyError,
  DataParseError,
  DataValueError,
  LabelNotFoundError,
  SingleClassError,
  ShapeError,
  StagesModuleError,
  TaskFailedError,
  TrainingDivergedError,
  ArtifactError,
  ExecutorClosedError,
  InferenceRequestError,
  BatchTooLargeError,
  PayloadTooLargeError,
  UnsupportedEncodingError,
  ModelNotFoundError,
  ModelNotReadyError,
  ModelLoadError,
  QueueFullError,
  RequestTimeoutError,
  InstanceFailedError,
  ShuttingDownError,
  ClientClosedError,
  UnauthorizedError,
  ForbiddenError,
  UnsupportedMediaTypeError,
  ServerBusyError,
  RedisUnavailableError,
  WorkerIncompatibleError,
  SweepFileError,
  SweepVersionError,
  ServerUnreachableError,
  LoadTargetUnreachableError,
  NotOnnxError,
  OnnxCorruptError,
  NothingToQuantizeError,
] as const;

/** True when `err` is an MlscaleError (also across realms, e.g. after a worker thread rebuilt it). */
export function isMlscaleError(err: unknown): err is MlscaleError {
  return err instanceof MlscaleError;
}
