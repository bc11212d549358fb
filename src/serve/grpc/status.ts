/**
 * mlscale's errors as gRPC statuses: the same message a REST client gets in `{"error": ...}`, with
 * the status code that means what the HTTP status means (gRPC's own table of HTTP equivalents).
 *
 * @module
 */
import { status as Status, Metadata, type StatusObject } from '@grpc/grpc-js';
import { MlscaleError } from '../../errors.js';

/** gRPC code for an HTTP status mlscale's errors carry. */
function codeOf(httpStatus: number): Status {
  switch (httpStatus) {
    case 400:
      return Status.INVALID_ARGUMENT;
    case 401:
      return Status.UNAUTHENTICATED;
    case 403:
      return Status.PERMISSION_DENIED;
    case 404:
      return Status.NOT_FOUND;
    case 413:
      return Status.RESOURCE_EXHAUSTED;
    case 499:
      return Status.CANCELLED;
    case 503:
      // Shed load, a drain, a model loading: gRPC clients retry UNAVAILABLE, as HTTP ones do a 503.
      return Status.UNAVAILABLE;
    case 504:
      return Status.DEADLINE_EXCEEDED;
    default:
      return httpStatus >= 400 && httpStatus < 500 ? Status.FAILED_PRECONDITION : Status.INTERNAL;
  }
}

/** The status a call ends with for an error; anything not mlscale's is an internal error, unexplained. */
export function statusOf(err: unknown): Partial<StatusObject> {
  const metadata = new Metadata();
  if (err instanceof MlscaleError) {
    metadata.set('mlscale-error-code', err.code);
    return { code: codeOf(err.status), details: err.message, metadata };
  }
  return { code: Status.INTERNAL, details: 'internal server error', metadata };
}
