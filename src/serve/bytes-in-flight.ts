/**
 * The server's budget of request bytes in flight: bodies being read, queued or run, counted from
 * their headers (Content-Length) until their answer is sent or the client goes. A request that
 * would pass the budget is answered 503 with Retry-After before its body is kept, so a burst of
 * large bodies costs at most the budget in memory, not queue length × body limit.
 *
 * The body size stands for the decoded data it becomes: binary tensors decode to about their own
 * size, JSON to less than its text.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServerBusyError } from '../errors.js';

export class BytesInFlight {
  #used = 0;

  /**
   * @param limit - the budget, in bytes.
   * @param bodyLimit - the largest body the server takes: a chunked body (no Content-Length)
   *   counts as that much, and a larger declared one is left for the 413 it gets anyway.
   */
  constructor(
    readonly limit: number,
    readonly bodyLimit: number,
  ) {}

  /** Bytes of the requests in flight now. */
  get used(): number {
    return this.#used;
  }

  /**
   * Counts a request's body in, or answers it 503; true when it may go on. Its bytes are counted
   * out when its response closes (sent, or the connection gone).
   */
  admit(request: IncomingMessage, response: ServerResponse): boolean {
    const length = request.headers['content-length'];
    let size: number;
    if (length !== undefined) size = Number(length);
    else if (request.headers['transfer-encoding'] !== undefined) size = this.bodyLimit;
    else return true;
    if (!(size > 0) || size > this.bodyLimit) return true;
    if (this.#used + size > this.limit) {
      refuse(request, response, size, this.#used, this.limit);
      return false;
    }
    this.#used += size;
    response.once('close', () => (this.#used -= size));
    return true;
  }
}

function refuse(
  request: IncomingMessage,
  response: ServerResponse,
  size: number,
  used: number,
  limit: number,
): void {
  const error = new ServerBusyError(
    `the server holds ${used} bytes of requests being read, queued or run, and this one's ${size} bytes would pass its budget of ${limit} (--max-bytes-in-flight); retry shortly or on another replica`,
  );
  const body = JSON.stringify({ error: error.message });
  const id = request.headers['x-request-id'];
  response.writeHead(error.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'retry-after': '1',
    ...(typeof id === 'string' ? { 'x-request-id': id } : {}),
  });
  response.end(body);
  // Read and dropped, not kept, on a connection kept open: closing it under a client still
  // uploading would reset it before it reads the answer. The body timeout bounds the upload.
  request.resume();
}
