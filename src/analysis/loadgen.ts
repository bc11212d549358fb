/**
 * The load generator: `runLoad` sends HTTP requests to one URL at a constant arrival rate (open
 * loop, latency from the scheduled send time, so queueing behind a stalled server is seen) or from
 * N eager clients (closed loop), over N keep-alive connections (http-load-pool.ts), and reports HdrHistogram percentiles,
 * throughput and errors by kind. `mlscale load` and `mlscale sweep serve` are built on it.
 *
 * @module
 */
import { connect } from 'node:net';
import { InvalidOptionError, LoadTargetUnreachableError } from '../errors.js';
import type { LoadProgress, LoadResult } from './load-result.js';
import { hostAndPort } from './http-load-pool.js';
import { LoadEngine, type FilledLoadOptions } from './load-engine.js';
import { initHistograms } from './load-recorder.js';

/** What `runLoad` takes. */
export interface LoadOptions {
  /** http:// or https:// URL every request goes to. */
  url: string;
  /** Default: POST when a body is given, else GET. */
  method?: 'GET' | 'POST';
  body?: string | Uint8Array;
  /** Extra request headers; content-type defaults to application/json when a body is given. */
  headers?: Record<string, string>;
  /** `open`: constant arrival rate; `closed`: `connections` loops that each wait for their answer. */
  mode: 'open' | 'closed';
  /** Requests per second; required for open loop, ignored for closed loop. */
  rate?: number;
  /** Length of the measured window (ms). */
  durationMs: number;
  /** The connections (open loop) or the concurrent loops (closed loop). Default 64. */
  connections?: number;
  /** Load sent before the measured window and not recorded (ms). Default 0. */
  warmupMs?: number;
  /** A request with no complete answer after this long counts as a `timeout` (ms). Default 30000. */
  requestTimeoutMs?: number;
  /** Called about once a second with the last second's figures. */
  onProgress?: (p: LoadProgress) => void;
  /** Ends the run early; `runLoad` then resolves with what was measured so far. */
  signal?: AbortSignal;
}

export type { LoadProgress, LoadResult } from './load-result.js';

/** Defaults of the optional fields of `LoadOptions`. */
export const kDefaultLoadOptions = Object.freeze({
  connections: 64,
  /** ms */
  warmupMs: 0,
  /** ms */
  requestTimeoutMs: 30_000,
});

/** Longest a connection attempt to the target may take before the run (ms). */
const kConnectCheckMs = 5_000;

/**
 * Runs load against one URL and resolves with what it measured.
 *
 * @param options - what to send, how (open or closed loop) and for how long.
 * @returns the result over the measured window; rejects with `InvalidOptionError` for bad options
 *   and `LoadTargetUnreachableError` when the URL's host cannot be connected to before the run.
 * @example
 * const r = await runLoad({ url: 'http://127.0.0.1:8000/v2/models/churn/infer', body, mode: 'open',
 *   rate: 2000, durationMs: 30_000 });
 * console.log(r.achievedRate, r.latencyMs.p99, r.errorsByKind);
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const filled = fillLoadOptions(options);
  await Promise.all([checkReachable(filled.url, kConnectCheckMs), initHistograms()]);
  return new LoadEngine(filled).run();
}

/** Validates `options` once, at the boundary, and fills in the defaults. */
export function fillLoadOptions(options: LoadOptions): FilledLoadOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError(`options must be an object, got ${describe(options)}`);
  }
  const o = { ...kDefaultLoadOptions, ...stripUndefined(options) } as LoadOptions &
    typeof kDefaultLoadOptions;
  let url: URL;
  try {
    url = new URL(String(o.url));
  } catch (err) {
    throw new InvalidOptionError(
      `options.url must be an http:// or https:// URL, got ${describe(o.url)}`,
      { cause: err },
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidOptionError(
      `options.url must be an http:// or https:// URL, got ${describe(o.url)}`,
    );
  }
  if (o.mode !== 'open' && o.mode !== 'closed') {
    throw new InvalidOptionError(
      `options.mode must be 'open' or 'closed', got ${describe(o.mode)}`,
    );
  }
  if (o.mode === 'open' && !(typeof o.rate === 'number' && Number.isFinite(o.rate) && o.rate > 0)) {
    throw new InvalidOptionError(
      `options.rate must be a positive number of requests per second for an open loop, got ${describe(o.rate)}`,
    );
  }
  positive('options.durationMs', o.durationMs, false);
  positive('options.connections', o.connections, true);
  if (o.connections > 100_000)
    throw new InvalidOptionError(
      `options.connections must be at most 100000, got ${o.connections}`,
    );
  positive('options.warmupMs', o.warmupMs, false, true);
  positive('options.requestTimeoutMs', o.requestTimeoutMs, false);
  if (o.method !== undefined && o.method !== 'GET' && o.method !== 'POST') {
    throw new InvalidOptionError(
      `options.method must be 'GET' or 'POST', got ${describe(o.method)}`,
    );
  }
  if (o.body !== undefined && typeof o.body !== 'string' && !(o.body instanceof Uint8Array)) {
    throw new InvalidOptionError(
      `options.body must be a string or a Uint8Array, got ${describe(o.body)}`,
    );
  }
  const method = o.method ?? (o.body !== undefined ? 'POST' : 'GET');
  if (method === 'GET' && o.body !== undefined) {
    throw new InvalidOptionError(`options.body cannot be sent with method GET; use POST`);
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw new InvalidOptionError(
      `options.onProgress must be a function, got ${describe(o.onProgress)}`,
    );
  }
  const headers: string[] = [];
  let hasContentType = false;
  for (const [name, value] of Object.entries(o.headers ?? {})) {
    if (typeof value !== 'string') {
      throw new InvalidOptionError(
        `options.headers['${name}'] must be a string, got ${describe(value)}`,
      );
    }
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new InvalidOptionError(
        `options.headers has an invalid header name ${JSON.stringify(name)}`,
      );
    }
    const problem = headerProblem(name, value);
    if (problem !== undefined)
      throw new InvalidOptionError(`options.headers['${name}'] ${problem}`);
    if (name.toLowerCase() === 'content-type') hasContentType = true;
    headers.push(name, value);
  }
  const body =
    o.body === undefined
      ? null
      : typeof o.body === 'string'
        ? Buffer.from(o.body)
        : Buffer.from(o.body);
  if (body && !hasContentType) headers.push('content-type', 'application/json');
  return Object.freeze({
    url,
    method,
    body,
    headers: Object.freeze(headers),
    mode: o.mode,
    rate: o.mode === 'open' ? (o.rate as number) : 0,
    durationMs: o.durationMs,
    connections: o.connections,
    warmupMs: o.warmupMs,
    requestTimeoutMs: o.requestTimeoutMs,
    onProgress: o.onProgress ?? null,
    signal: o.signal ?? null,
  });
}

/**
 * What is wrong with a request header the load generator cannot send, or undefined. The request
 * is serialised by hand (http-load-pool.ts), so a value may not break its line, and the framing
 * headers are the generator's own.
 */
export function headerProblem(name: string, value: string): string | undefined {
  if (/[\r\n\0]/.test(value)) return 'may not contain CR, LF or NUL characters';
  const lower = name.toLowerCase();
  if (lower === 'content-length' || lower === 'transfer-encoding' || lower === 'connection')
    return 'is set by the load generator; remove it';
  return undefined;
}

/**
 * Opens and closes one TCP connection to the URL's host and port, so that a wrong URL fails in
 * seconds with the OS error instead of as a run full of ECONNREFUSED.
 */
function checkReachable(url: URL, timeoutMs: number): Promise<void> {
  const { host, port } = hostAndPort(url);
  return new Promise<void>((resolve, reject) => {
    const socket = connect({ host, port });
    const fail = (reason: string, cause?: unknown) => {
      socket.destroy();
      reject(new LoadTargetUnreachableError(`cannot reach ${url.href}: ${reason}`, { cause }));
    };
    socket.setTimeout(timeoutMs, () => fail(`no connection after ${timeoutMs} ms (ETIMEDOUT)`));
    socket.once('error', (err: NodeJS.ErrnoException) => fail(err.message, err));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
  });
}

function positive(path: string, value: unknown, integer: boolean, zeroAllowed = false): void {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (zeroAllowed ? value >= 0 : value > 0) &&
    (!integer || Number.isInteger(value));
  if (!ok) {
    const what = integer
      ? 'a positive integer'
      : zeroAllowed
        ? 'a number >= 0'
        : 'a positive number';
    throw new InvalidOptionError(`${path} must be ${what}, got ${describe(value)}`);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof Uint8Array) return 'a Uint8Array';
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
