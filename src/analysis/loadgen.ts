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
import type { LoadInterval, LoadProgress, LoadResult } from './load-result.js';
import { describeProfile, RateSchedule, type RateStage } from './rate-profile.js';
import { hostAndPort } from './http-load-pool.js';
import { LoadEngine } from './load-engine.js';
import type { FilledLoadOptions } from './load-options.js';
import { initHistograms } from './load-recorder.js';

/** What `runLoad` takes. */
export interface LoadOptions {
  /** http:// or https:// URL every request goes to. */
  url: string;
  /** Default: POST when a body is given, else GET. */
  method?: 'GET' | 'POST';
  body?: string | Uint8Array;
  /**
   * Several request bodies (e.g. the lines of a JSON Lines file, `body-file.ts`): each request
   * takes the next in turn (`bodyOrder: 'round-robin'`, the default) or one at random (`'random'`,
   * seeded by `seed`). Not with `body`.
   */
  bodies?: readonly (string | Uint8Array)[];
  bodyOrder?: 'round-robin' | 'random';
  /** Seed of the random body order. Default 1. */
  seed?: number;
  /** Extra request headers; content-type defaults to application/json when a body is given. */
  headers?: Record<string, string>;
  /** `open`: constant arrival rate; `closed`: `connections` loops that each wait for their answer. */
  mode: 'open' | 'closed';
  /** Requests per second; required for open loop without `profile`, ignored for closed loop. */
  rate?: number;
  /**
   * Open loop: the offered rate over time (`rate-profile.ts`), instead of `rate`; the measured
   * window is the profile's length (`durationMs` is then not needed) and the warm-up runs at its
   * first rate.
   */
  profile?: readonly RateStage[];
  /** Length of the measured window (ms); with `profile`, its length. */
  durationMs?: number;
  /** The connections (open loop) or the concurrent loops (closed loop). Default 64. */
  connections?: number;
  /** Load sent before the measured window and not recorded (ms). Default 0. */
  warmupMs?: number;
  /** A request with no complete answer after this long counts as a `timeout` (ms). Default 30000. */
  requestTimeoutMs?: number;
  /** Called about once a second with the last second's figures. */
  onProgress?: (p: LoadProgress) => void;
  /** Called once a second with that second's row of the time series (and once for the last part). */
  onInterval?: (s: LoadInterval) => void;
  /** Ends the run early; `runLoad` then resolves with what was measured so far. */
  signal?: AbortSignal;
}

export type { LoadInterval, LoadProgress, LoadResult } from './load-result.js';

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
  const profile = o.mode === 'open' ? o.profile : undefined;
  if (profile !== undefined) checkProfile(profile);
  if (profile !== undefined) {
    const length = profile.reduce((t, s) => t + s.durationMs, 0);
    if (o.durationMs !== undefined && o.durationMs !== length)
      throw new InvalidOptionError(
        `options.durationMs (${o.durationMs}) differs from the profile's length (${length} ms): the profile sets the window; leave durationMs out`,
      );
    o.durationMs = length;
  }
  if (
    o.mode === 'open' &&
    profile === undefined &&
    !(typeof o.rate === 'number' && Number.isFinite(o.rate) && o.rate > 0)
  ) {
    throw new InvalidOptionError(
      `options.rate must be a positive number of requests per second for an open loop, got ${describe(o.rate)}`,
    );
  }
  positive('options.durationMs', o.durationMs, false);
  const durationMs = o.durationMs as number;
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
  const method = o.method ?? (o.body !== undefined || o.bodies !== undefined ? 'POST' : 'GET');
  if (o.bodies !== undefined) {
    if (!Array.isArray(o.bodies) || o.bodies.length === 0)
      throw new InvalidOptionError(
        `options.bodies must be a non-empty array of strings or Uint8Arrays, got ${describe(o.bodies)}`,
      );
    if (o.body !== undefined)
      throw new InvalidOptionError('options.body and options.bodies do not go together: give one');
    o.bodies.forEach((b, i) => {
      if (typeof b !== 'string' && !(b instanceof Uint8Array))
        throw new InvalidOptionError(
          `options.bodies[${i}] must be a string or a Uint8Array, got ${describe(b)}`,
        );
    });
  }
  if (o.bodyOrder !== undefined && o.bodyOrder !== 'round-robin' && o.bodyOrder !== 'random')
    throw new InvalidOptionError(
      `options.bodyOrder must be 'round-robin' or 'random', got ${describe(o.bodyOrder)}`,
    );
  const seed = o.seed ?? 1;
  if (!Number.isInteger(seed))
    throw new InvalidOptionError(`options.seed must be an integer, got ${describe(o.seed)}`);
  if (o.onInterval !== undefined && typeof o.onInterval !== 'function')
    throw new InvalidOptionError(
      `options.onInterval must be a function, got ${describe(o.onInterval)}`,
    );
  const hasBody = o.body !== undefined || o.bodies !== undefined;
  if (method === 'GET' && hasBody) {
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
  const bodies = o.bodies === undefined ? null : o.bodies.map((b) => Buffer.from(b));
  if ((body || bodies) && !hasContentType) headers.push('content-type', 'application/json');
  // The warm-up runs at the profile's first rate (or the constant rate) before the measured window.
  const stages: RateStage[] =
    o.mode !== 'open'
      ? []
      : profile !== undefined
        ? [
            ...(o.warmupMs > 0
              ? [
                  {
                    fromRate: profile[0]!.fromRate,
                    toRate: profile[0]!.fromRate,
                    durationMs: o.warmupMs,
                  },
                ]
              : []),
            ...profile,
          ]
        : [{ fromRate: o.rate!, toRate: o.rate!, durationMs: o.warmupMs + durationMs }];
  const schedule = o.mode === 'open' ? new RateSchedule(stages) : null;
  const offered =
    schedule === null
      ? 0
      : profile === undefined
        ? (o.rate as number)
        : (schedule.total - schedule.countBefore(o.warmupMs)) / (durationMs / 1000);
  if (schedule !== null && schedule.total === 0)
    throw new InvalidOptionError(
      `options.profile sends no request: every rate is 0 (${describeProfile(profile!)})`,
    );
  return Object.freeze({
    url,
    method,
    body,
    bodies,
    bodyOrder: o.bodyOrder ?? 'round-robin',
    seed,
    schedule,
    profile: profile !== undefined ? describeProfile(profile) : null,
    onInterval: o.onInterval ?? null,
    headers: Object.freeze(headers),
    mode: o.mode,
    rate: offered,
    durationMs,
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

/** A profile passed to the library (the CLI's come from `parseProfile`, already valid). */
function checkProfile(profile: readonly RateStage[]): void {
  if (!Array.isArray(profile) || profile.length === 0)
    throw new InvalidOptionError(
      `options.profile must be a non-empty array of stages, got ${describe(profile)}`,
    );
  profile.forEach((s, i) => {
    const rateOk = (r: unknown) => typeof r === 'number' && Number.isFinite(r) && r >= 0;
    if (
      s === null ||
      typeof s !== 'object' ||
      !rateOk(s.fromRate) ||
      !rateOk(s.toRate) ||
      !(typeof s.durationMs === 'number' && Number.isFinite(s.durationMs) && s.durationMs > 0)
    )
      throw new InvalidOptionError(
        `options.profile[${i}] must be { fromRate >= 0, toRate >= 0, durationMs > 0 }, got ${describe(s)}`,
      );
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
