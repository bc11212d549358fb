/**
 * A model version's requests on their way to an instance and back (see served-model.ts): the work
 * the batcher queues (a body, undecoded), and the instance's answers read back into responses or
 * per-request errors.
 *
 * @module
 */
import {
  BatchTooLargeError,
  ClientClosedError,
  InferenceRequestError,
  InstanceFailedError,
  QueueFullError,
  RequestTimeoutError,
} from '../errors.js';
import type { BatchWork } from './batcher.js';
import {
  kAnswerBadRequest,
  kAnswerBinary,
  kAnswerJson,
  kAnswerTooLarge,
  packedItem,
  type InferredMessage,
} from './instances/messages.js';
import type { Outcome } from './metrics.js';
import type { EncodedResponse } from './protocol/index.js';
import type { RequestTrace } from '../telemetry/types.js';

/** A request as the batcher queues it: its body, undecoded. */
export interface RawWork extends BatchWork {
  readonly body: Uint8Array;
  /** Its `Inference-Header-Content-Length` header (the binary extension), if any. */
  readonly headerLength: string | undefined;
  /** Its spans, when traced. */
  readonly trace?: RequestTrace | undefined;
}

/** A request's encoded response and the rows it held. */
export interface Answered {
  readonly response: EncodedResponse;
  readonly rows: number;
}

const kJsonHeaders: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'application/json',
});

/**
 * Reads an instance's answers to a batch: a response or an error for each request, and the rows of
 * the requests answered (the caller's estimate of rows per request follows them).
 */
export function readAnswers(inferred: InferredMessage): {
  results: (Answered | Error)[];
  rows: number;
  answered: number;
} {
  const results = new Array<Answered | Error>(inferred.kinds.length);
  let rows = 0;
  let answered = 0;
  for (let i = 0; i < results.length; i++) {
    const kind = inferred.kinds[i];
    const bytes = packedItem(inferred.answers, i);
    if (kind === kAnswerJson || kind === kAnswerBinary) {
      const headers =
        kind === kAnswerJson
          ? kJsonHeaders
          : {
              'content-type': 'application/octet-stream',
              'inference-header-content-length': String(inferred.headerLengths[i]),
            };
      results[i] = { response: { body: bytes, headers }, rows: inferred.rows[i]! };
      rows += inferred.rows[i]!;
      answered++;
    } else {
      const message = bytes.toString('utf8');
      results[i] =
        kind === kAnswerBadRequest
          ? new InferenceRequestError(message)
          : kind === kAnswerTooLarge
            ? new BatchTooLargeError(message)
            : new InstanceFailedError(`the model instance failed: ${message}`);
    }
  }
  return { results, rows, answered };
}

/** A request body as bytes for an instance. */
export function bodyBytes(body: unknown): Uint8Array {
  if (body instanceof Uint8Array) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  // Parsed elsewhere: its JSON, as a client would have sent it (undefined: an empty body).
  return Buffer.from(JSON.stringify(body) ?? '', 'utf8');
}

export function outcomeOf(err: unknown): Outcome {
  if (err instanceof QueueFullError) return 'shed';
  if (err instanceof RequestTimeoutError) return 'timeout';
  if (err instanceof ClientClosedError) return 'cancelled';
  if (err instanceof InferenceRequestError || err instanceof BatchTooLargeError)
    return 'client_error';
  return 'error';
}
