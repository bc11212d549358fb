/**
 * Options of `mlscale serve`, their defaults (from the CPU count), and their validation.
 *
 * Per-model settings (batching, instances, threads) come from, in order of precedence: a flag the
 * user gave, the model's `config.json`, then these defaults.
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { InvalidOptionError } from '../errors.js';

/** Per-model settings that a `config.json` beside the model may also set. */
export interface ModelSettings {
  /** Largest merged batch, in rows; 0 turns dynamic batching off. */
  readonly maxBatchSize: number;
  /** How long a partial batch may wait for more requests, in ms; `auto` learns it. */
  readonly maxQueueDelayMs: number | 'auto';
  /** Requests queued per model before new ones are shed with 503. */
  readonly maxQueue: number;
  /** onnxruntime sessions per model, each in its own worker thread. */
  readonly instances: number;
  /** onnxruntime intra-op threads per instance. */
  readonly intraOpThreads: number;
  /** Whether idle onnxruntime threads spin (lower latency, burns CPU). */
  readonly allowSpinning: boolean;
  /** A request's whole time budget, queueing included, in ms. */
  readonly requestTimeoutMs: number;
  /** How long an instance may take to load the model before the load counts as failed, in ms. */
  readonly loadTimeoutMs: number;
}

/** Everything `mlscale serve` takes, filled. */
export interface ServeOptions {
  /** One artifact folder or .onnx file. Exactly one of `model` and `modelRepository`. */
  readonly model?: string;
  /** A repository folder: `<repo>/<model>/<version>/model.onnx`. */
  readonly modelRepository?: string;
  /**
   * With `model` an artifact folder: serve its variant `model.<variant>.onnx` (written by
   * `mlscale optimize` or `mlscale train --optimize`) instead of model.onnx, as `<folder>-<variant>`.
   */
  readonly variant?: string;
  readonly host: string;
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** Largest request body, in bytes. */
  readonly bodyLimit: number;
  /** Bearer token that protects the repository endpoints (load/unload/index). */
  readonly adminToken?: string;
  /** Whether the repository endpoints exist at all. */
  readonly repositoryApi: boolean;
  /** How long SIGTERM/SIGINT waits for in-flight requests, in ms. */
  readonly gracePeriodMs: number;
  /**
   * On shutdown, how long readiness reports false while the server still serves, before it stops
   * accepting, in ms: long enough for a load balancer's health check to notice.
   */
  readonly unreadyDelayMs: number;
  /** `info`, `warn`, `error`, `silent`, ... (pino levels). */
  readonly logLevel: string;
  /** Per-model settings given as flags: they override every model's config.json. */
  readonly modelOverrides: Readonly<Partial<ModelSettings>>;
  /** Whether `GET /dashboard` (the live web page and its API) is served. */
  readonly dashboard: boolean;
  /** A folder of `mlscale sweep` reports that the dashboard links to. */
  readonly reports?: string;
}

/**
 * Defaults, from the CPU count. Instances × intra-op threads equal the cores, so threads never
 * fight over them, and instances are few — one per four cores — because every instance splits
 * the queue: with 64 connections on 2 cores, one instance of 2 threads formed batches of ~31 rows
 * and served 3,850 rows/s on a heavy MLP, two instances of 1 thread batches of ~20 and 3,190
 * (see BENCHMARKS.md). Spinning stays off: idle spinning threads would take the cores the HTTP
 * thread needs. The batching delay is `auto`: measured on both a heavy and a light model, it beat
 * a fixed 2 ms and no delay at all.
 */
export function defaultModelSettings(cores = availableParallelism()): ModelSettings {
  const instances = Math.max(1, Math.floor(cores / 4));
  return {
    maxBatchSize: 64,
    maxQueueDelayMs: 'auto',
    maxQueue: 1024,
    instances,
    intraOpThreads: Math.max(1, Math.floor(cores / instances)),
    allowSpinning: false,
    requestTimeoutMs: 30_000,
    // Generous: a session for a model of gigabytes takes seconds to minutes. What it bounds is a
    // load that never ends, which would otherwise hold the server before it ever listens.
    loadTimeoutMs: 300_000,
  };
}

export const kDefaultServeOptions = {
  host: '127.0.0.1', // loopback unless the user says otherwise
  port: 8000,
  bodyLimit: 32 * 1024 * 1024, // 32 MiB
  repositoryApi: true,
  gracePeriodMs: 10_000,
  unreadyDelayMs: 0, // the library closes at once; `mlscale serve` sets its own default
  logLevel: 'info',
  modelOverrides: {},
  dashboard: true,
} as const;

/** Validates and fills serve options. */
export function resolveServeOptions(options: Partial<ServeOptions>): Readonly<ServeOptions> {
  const o: ServeOptions = { ...kDefaultServeOptions, ...dropUndefined(options) };
  if ((o.model === undefined) === (o.modelRepository === undefined)) {
    throw new InvalidOptionError('give exactly one of --model (an artifact folder or .onnx file) and --model-repository (a folder of models)');
  }
  if (o.variant !== undefined && (typeof o.variant !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,31}$/.test(o.variant) || o.model === undefined)) {
    fail('--variant', "a variant name such as int8, fp16 or graph (lower-case letters, digits, '-', '_'), with --model DIR", o.variant);
  }
  if (typeof o.host !== 'string' || o.host === '') fail('--host', 'a host name or address', o.host);
  integer('--port', o.port, 0, 65535);
  integer('--body-limit', o.bodyLimit, 1024, 2 ** 31);
  integer('--grace-period-ms', o.gracePeriodMs, 0, 3_600_000);
  integer('--unready-delay-ms', o.unreadyDelayMs, 0, 600_000);
  if (o.adminToken !== undefined && (typeof o.adminToken !== 'string' || o.adminToken.length < 8)) {
    fail('--admin-token', 'a string of at least 8 characters', o.adminToken === undefined ? undefined : '<hidden>');
  }
  if (typeof o.dashboard !== 'boolean') fail('options.dashboard', 'true or false', o.dashboard);
  if (o.reports !== undefined && (typeof o.reports !== 'string' || o.reports === '')) fail('--reports', 'a folder', o.reports);
  const overrides = dropUndefined(o.modelOverrides ?? {});
  validateModelSettings(overrides, (key) => `--${kebab(key)}`);
  return Object.freeze({ ...o, modelOverrides: Object.freeze(overrides) });
}

/** Checks per-model settings; `where(key)` names the flag or config file key in messages. */
export function validateModelSettings(s: Partial<ModelSettings>, where: (key: keyof ModelSettings) => string): void {
  if (s.maxBatchSize !== undefined) integer(where('maxBatchSize'), s.maxBatchSize, 0, 1 << 20);
  if (s.maxQueueDelayMs !== undefined && s.maxQueueDelayMs !== 'auto') {
    if (typeof s.maxQueueDelayMs !== 'number' || !(s.maxQueueDelayMs >= 0 && s.maxQueueDelayMs <= 60_000)) {
      fail(where('maxQueueDelayMs'), 'a number of milliseconds from 0 to 60000, or "auto"', s.maxQueueDelayMs);
    }
  }
  if (s.maxQueue !== undefined) integer(where('maxQueue'), s.maxQueue, 1, 1 << 24);
  if (s.instances !== undefined) integer(where('instances'), s.instances, 1, 256);
  if (s.intraOpThreads !== undefined) integer(where('intraOpThreads'), s.intraOpThreads, 1, 256);
  if (s.allowSpinning !== undefined && typeof s.allowSpinning !== 'boolean') fail(where('allowSpinning'), 'true or false', s.allowSpinning);
  if (s.requestTimeoutMs !== undefined) integer(where('requestTimeoutMs'), s.requestTimeoutMs, 1, 3_600_000);
  if (s.loadTimeoutMs !== undefined) integer(where('loadTimeoutMs'), s.loadTimeoutMs, 1000, 86_400_000);
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function fail(what: string, expected: string, given: unknown): never {
  throw new InvalidOptionError(`${what} must be ${expected}, got ${JSON.stringify(given) ?? String(given)}`);
}

function integer(what: string, v: unknown, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(what, `an integer from ${min} to ${max}`, v);
}
