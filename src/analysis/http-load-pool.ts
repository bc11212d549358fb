/**
 * The load generator's HTTP client: N keep-alive HTTP/1.1 connections that send one fixed request,
 * serialised once, and parse the answers with http-parser-js — the design of autocannon (which
 * uses the same parser) and of wrk (which writes a prebuilt request and runs a C parser).
 *
 * Why not undici, which the generator used first: it is a general client (dispatch options turned
 * into a request per call, header validation, body handling, a handler chain), and against a bare
 * node:http server on this project's 2-core machine it cost 15 µs of CPU per request against wrk's
 * 9.4 µs and this client's 10.7 µs. Server and generator share the cores, so every microsecond
 * the generator spends is taken from the server it measures (BENCHMARKS.md, "Load generator").
 *
 * Requests wait in a FIFO queue while every connection is busy, as in undici's Pool; a request
 * that waited past the request timeout fails as a timeout without being sent. A request with no
 * complete answer within the timeout (counted from its `fromMs`) fails too, and its connection is
 * closed; one sweep timer serves every connection instead of a timer per request. Connections are opened as needed, and opened
 * again after the server closes one.
 *
 * @module
 */
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { HTTPParser } from 'http-parser-js';

/** One request of the load: the pool calls back the receiver with it when it ends. */
export interface LoadRequest {
  /** performance.now() the request's timeout counts from (its scheduled or its send time). */
  readonly fromMs: number;
  /** This request's own bytes (`serialiseRequest`), when they differ from the pool's one request. */
  readonly bytes?: Buffer;
}

/** Where a request's outcome goes. */
export interface LoadReceiver<R extends LoadRequest> {
  /** A complete answer with this status. */
  onResponse(request: R, status: number): void;
  /** No complete answer: refused, reset, closed, timed out or unparseable. */
  onFailure(request: R, err: Error): void;
}

export interface HttpLoadPoolOptions {
  readonly url: URL;
  readonly method: 'GET' | 'POST';
  /** Flat list of name, value pairs; validated by the caller. */
  readonly headers: readonly string[];
  readonly body: Buffer | null;
  readonly connections: number;
  /** A request with no complete answer this long after `fromMs` fails as a timeout (ms). */
  readonly timeoutMs: number;
  /** https: certificate authorities to trust instead of Node's bundled ones. */
  readonly ca?: Buffer | string;
}

/** A request with no complete answer in time, or that waited for a connection past the timeout. */
export class LoadTimeoutError extends Error {
  override readonly name = 'LoadTimeoutError';
}

/** The server closed the connection before the answer was complete. */
export class SocketClosedError extends Error {
  override readonly name = 'SocketClosedError';
}

/** The answer was not valid HTTP/1.1. */
export class ResponseParseError extends Error {
  override readonly name = 'ResponseParseError';
}

/** The request's bytes: request line, headers (host and content-length added) and body. */
export function serialiseRequest(
  o: Pick<HttpLoadPoolOptions, 'url' | 'method' | 'headers' | 'body'>,
): Buffer {
  const lines = [`${o.method} ${o.url.pathname}${o.url.search} HTTP/1.1`];
  let hasHost = false;
  for (let i = 0; i < o.headers.length; i += 2) {
    if (o.headers[i]!.toLowerCase() === 'host') hasHost = true;
    lines.push(`${o.headers[i]}: ${o.headers[i + 1]}`);
  }
  if (!hasHost) lines.splice(1, 0, `host: ${o.url.host}`);
  if (o.body) lines.push(`content-length: ${o.body.length}`);
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  return o.body ? Buffer.concat([head, o.body]) : head;
}

/** N connections sending one request; `send` queues when all are busy. */
export class HttpLoadPool<R extends LoadRequest> {
  readonly #o: HttpLoadPoolOptions;
  readonly #receiver: LoadReceiver<R>;
  readonly #request: Buffer;
  readonly #connections: Connection<R>[] = [];
  readonly #idle: Connection<R>[] = [];
  /** FIFO of requests waiting for a connection; `#head` is the next one (compacted as it grows). */
  #queue: (R | undefined)[] = [];
  #head = 0;
  readonly #sweep: NodeJS.Timeout;
  #closed = false;

  constructor(options: HttpLoadPoolOptions, receiver: LoadReceiver<R>) {
    this.#o = options;
    this.#receiver = receiver;
    this.#request = serialiseRequest(options);
    // A quarter of the timeout (at most 250 ms) between sweeps: a timeout is noticed at most that late.
    const every = Math.max(1, Math.min(250, options.timeoutMs / 4));
    this.#sweep = setInterval(() => this.#expire(), every);
    this.#sweep.unref();
  }

  /** Sends `request` on a free connection, or queues it until one frees up. */
  send(request: R): void {
    if (this.#closed) {
      this.#receiver.onFailure(request, new SocketClosedError('the load pool is closed'));
      return;
    }
    let conn = this.#idle.pop();
    if (!conn && this.#connections.length < this.#o.connections) {
      conn = new Connection(this, this.#o, this.#request);
      this.#connections.push(conn);
    }
    if (conn) conn.assign(request);
    else this.#queue.push(request);
  }

  /** Closes every connection; requests still queued or in flight are dropped without callbacks. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweep);
    for (const c of this.#connections) c.destroy();
    this.#queue = [];
    this.#head = 0;
  }

  /**
   * A connection finished its request: it takes the next queued one or waits idle. A queued
   * request that waited past the timeout fails here without being sent (the connection is kept),
   * so an overloaded server's backlog drains in bounded time.
   */
  released(conn: Connection<R>): void {
    const limit = this.#o.timeoutMs;
    let now = 0;
    while (!this.#closed) {
      const next = this.#dequeue();
      if (!next) {
        this.#idle.push(conn);
        return;
      }
      now ||= performance.now();
      if (now - next.fromMs <= limit) {
        conn.assign(next);
        return;
      }
      this.failed(next, new LoadTimeoutError(`waited for a connection longer than ${limit} ms`));
    }
  }

  answered(request: R, status: number): void {
    if (!this.#closed) this.#receiver.onResponse(request, status);
  }

  failed(request: R, err: Error): void {
    if (!this.#closed) this.#receiver.onFailure(request, err);
  }

  #dequeue(): R | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const r = this.#queue[this.#head];
    this.#queue[this.#head++] = undefined;
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return r;
  }

  /** Fails the requests past their timeout: in flight (closing the connection) or queued. */
  #expire(): void {
    const now = performance.now();
    const limit = this.#o.timeoutMs;
    for (const c of this.#connections) c.expire(now, limit);
    // The queue is FIFO by arrival, and `fromMs` rises along it (scheduled or send times).
    while (this.#head < this.#queue.length && now - this.#queue[this.#head]!.fromMs > limit) {
      const r = this.#dequeue()!;
      this.failed(r, new LoadTimeoutError(`waited for a connection longer than ${limit} ms`));
    }
  }
}

/** One keep-alive connection: at most one request in flight (no pipelining, as wrk and undici). */
class Connection<R extends LoadRequest> {
  #socket: Socket | null = null;
  #connected = false;
  #current: R | null = null;
  #status = 0;
  #keepAlive = true;
  #lastError: Error | null = null;

  constructor(
    private readonly pool: HttpLoadPool<R>,
    private readonly o: HttpLoadPoolOptions,
    private readonly request: Buffer,
  ) {}

  assign(request: R): void {
    this.#current = request;
    if (!this.#socket) this.#open();
    else if (this.#connected) this.#socket.write(request.bytes ?? this.request);
  }

  destroy(): void {
    this.#current = null;
    this.#socket?.destroy();
  }

  /** Fails the request in flight when it has had no complete answer within `limitMs`. */
  expire(now: number, limitMs: number): void {
    const r = this.#current;
    if (!r || now - r.fromMs <= limitMs) return;
    this.#current = null;
    this.#socket?.destroy();
    this.pool.failed(r, new LoadTimeoutError(`no complete answer within ${limitMs} ms`));
  }

  #open(): void {
    const url = this.o.url;
    const { host, port } = hostAndPort(url);
    this.#connected = false;
    this.#lastError = null;
    const socket =
      url.protocol === 'https:'
        ? tlsConnect({ host, port, servername: isIP(host) ? undefined : host, ca: this.o.ca })
        : netConnect({ host, port });
    this.#socket = socket;
    const parser = new HTTPParser(HTTPParser.RESPONSE);
    parser[HTTPParser.kOnHeadersComplete] = (info) => {
      this.#status = info.statusCode;
      this.#keepAlive = info.shouldKeepAlive;
    };
    parser[HTTPParser.kOnBody] = () => {};
    parser[HTTPParser.kOnMessageComplete] = () => this.#answered();
    socket.setNoDelay(true);
    socket.on(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      this.#connected = true;
      if (this.#current) socket.write(this.#current.bytes ?? this.request);
    });
    socket.on('data', (chunk: Buffer) => {
      const ret = parser.execute(chunk);
      if (ret instanceof Error)
        this.#broken(new ResponseParseError(`invalid HTTP answer: ${ret.message}`, { cause: ret }));
    });
    socket.on('end', () => {
      // An answer framed by the end of the connection (no content-length, not chunked) ends here.
      if (this.#socket === socket) parser.finish();
    });
    socket.on('error', (err) => {
      this.#lastError = err;
    });
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      this.#drop();
      const r = this.#current;
      if (!r) return;
      this.#current = null;
      this.pool.failed(
        r,
        this.#lastError ??
          new SocketClosedError('the server closed the connection before answering'),
      );
      this.pool.released(this);
    });
  }

  #answered(): void {
    const r = this.#current;
    if (!r) return;
    this.#current = null;
    // The server will close it: the next request opens a new connection.
    if (!this.#keepAlive) this.#drop();
    this.pool.answered(r, this.#status);
    this.pool.released(this);
  }

  #broken(err: Error): void {
    const r = this.#current;
    this.#current = null;
    this.#drop();
    if (r) {
      this.pool.failed(r, err);
      this.pool.released(this);
    }
  }

  /** Forgets the socket (its events are ignored from now on) and destroys it. */
  #drop(): void {
    const s = this.#socket;
    this.#socket = null;
    this.#connected = false;
    s?.destroy();
  }
}

/** The host (IPv6 without brackets) and port an http(s) URL connects to. */
export function hostAndPort(url: URL): { host: string; port: number } {
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
  };
}
