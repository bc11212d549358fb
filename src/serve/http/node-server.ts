/**
 * The Node HTTP server under the model server's Fastify app: its timeouts, keepalive and
 * connection limit, and the answers it gives itself, in the protocol's `{"error": "..."}` shape,
 * before Fastify sees a request (the server is closing, no Host header, a request Node's parser
 * refused).
 *
 * @module
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { ShuttingDownError } from '../../errors.js';
import type { BytesInFlight } from '../bytes-in-flight.js';
import type { FilledServeOptions } from '../options.js';

/**
 * Fastify's `serverFactory`: the HTTP server, with the one check in front of Fastify's handler
 * (the server is refusing, the Host header is missing, the bytes in flight are over budget).
 */
export function httpServerFactory(
  options: Readonly<FilledServeOptions>,
  bytesInFlight: BytesInFlight,
  refusing: () => boolean,
): (handler: (request: IncomingMessage, response: ServerResponse) => void) => Server {
  return (handler) => {
    // Node's own check of the Host header answers a bare 400 with no body; this one says why.
    const server = createHttpServer(
      {
        requireHostHeader: false,
        headersTimeout: options.headersTimeoutMs,
        requestTimeout: options.bodyTimeoutMs,
        // How often Node looks for requests past those timeouts (30 s by default): a few
        // times per timeout, so a slow client is cut close to its time.
        connectionsCheckingInterval: Math.max(
          50,
          Math.min(1000, Math.floor(options.headersTimeoutMs / 4)),
        ),
      },
      (request, response) => {
        if (refusing()) refuseWhileClosing(request, response);
        else if (request.headers.host === undefined && request.httpVersionMinor === 1)
          refuseWithoutHost(request, response);
        else if (bytesInFlight.admit(request, response)) handler(request, response);
      },
    );
    server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeouts (nginx 60 s)
    // Past it, new connections are closed as they arrive (see options.maxConnections).
    server.maxConnections = options.maxConnections;
    return server;
  };
}

/** A request that reaches a server already closing: 503 in the protocol's shape, and the connection closes. */
function refuseWhileClosing(request: IncomingMessage, response: ServerResponse): void {
  const body = JSON.stringify({
    error: new ShuttingDownError('the server is shutting down; retry on another replica').message,
  });
  const id = request.headers['x-request-id'];
  response.writeHead(503, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'retry-after': '1',
    connection: 'close',
    ...(typeof id === 'string' ? { 'x-request-id': id } : {}),
  });
  response.end(body);
}

/** An HTTP/1.1 request without the Host header it must carry (RFC 9112 §3.2): 400 in the protocol's shape. */
function refuseWithoutHost(request: IncomingMessage, response: ServerResponse): void {
  const body = JSON.stringify({
    error: 'bad request: an HTTP/1.1 request must carry a Host header (RFC 9112 §3.2)',
  });
  response.writeHead(400, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  response.end(body);
  // The request's body, if any, is not read: the connection closes after the answer.
  request.resume();
}

/**
 * A request Node's HTTP parser refused (bad syntax, headers too large, a request timeout): the
 * answer Fastify gives, written on the socket, with the protocol's `{"error": "..."}` body.
 */
export function answerClientError(
  err: NodeJS.ErrnoException,
  socket: import('node:stream').Duplex,
): void {
  // A reset connection has no one to answer (see Node's 'clientError' event).
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, text, error] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'the request was not received in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'the request headers are too large']
        : [400, 'Bad Request', `malformed HTTP request (${err.code ?? 'parse error'})`];
  const body = JSON.stringify({ error });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${text}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
