/**
 * A model server's options, their defaults (from the CPU count), and their validation, done once
 * here for the library and the command line alike.
 *
 * Per-model settings (batching, instances, threads) come from, in order of precedence:
 * `modelOverrides` (`mlscale serve`'s flags), the model's `config.json`, then these defaults.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { InvalidOptionError } from '../errors.js';
import { checkInteger, checkOneOf, dropUndefined, invalidOption } from '../util/options.js';

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

/** What a model server takes; everything but the model (or repository) has a default. */
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
  /** Address to bind; loopback by default. */
  readonly host?: string;
  /** TCP port; 0 picks a free one. */
  readonly port?: number;
  /**
   * TCP port of the gRPC endpoint (the protocol's `inference.GRPCInferenceService` and the
   * standard `grpc.health.v1.Health`), on `host`; 0 picks a free one; absent: no gRPC endpoint.
   */
  readonly grpcPort?: number;
  /** Largest request body, in bytes. */
  readonly bodyLimit?: number;
  /** How long a client may take to send a request's headers, in ms; then 408 and the connection closes. */
  readonly headersTimeoutMs?: number;
  /**
   * How long a client may take to send a whole request, headers and body, in ms; then 408 and the
   * connection closes. Bounds slow uploads, which would otherwise hold a connection for ever.
   */
  readonly bodyTimeoutMs?: number;
  /**
   * Connections open at once; more are closed as they arrive. The default stays below the
   * process's open-file limit, so that a flood of idle connections cannot starve the server of
   * descriptors for its own files and its liveness answers.
   */
  readonly maxConnections?: number;
  /**
   * Bytes of request bodies being read, queued or run at once, in bytes; a request that would pass
   * it gets 503 with Retry-After. At least `bodyLimit`. Default: an eighth of the machine's memory,
   * and at least twice `bodyLimit`.
   */
  readonly maxBytesInFlight?: number;
  /** Bearer token that protects the repository endpoints (load/unload/index). */
  readonly adminToken?: string;
  /**
   * Host names, besides loopback ones (`localhost`, `127.x.x.x`, `[::1]`), that the repository
   * API answers under without a token: the names this server is reached by (a proxy's, say). A
   * request whose `Host` is another name is refused, so that a web page cannot reach it through
   * DNS rebinding.
   */
  readonly allowedHosts?: readonly string[];
  /** Whether the repository endpoints exist at all. */
  readonly repositoryApi?: boolean;
  /** How long a drain waits for in-flight and queued requests, in ms. */
  readonly gracePeriodMs?: number;
  /**
   * On shutdown, how long readiness reports false while the server still serves, before it stops
   * accepting, in ms: long enough for a load balancer's health check to notice.
   */
  readonly unreadyDelayMs?: number;
  /** `info`, `warn`, `error`, `silent`, ... (pino levels), for the logger `mlscale serve` makes. */
  readonly logLevel?: string;
  /** Per-model settings that override every model's config.json. */
  readonly modelOverrides?: Readonly<Partial<ModelSettings>>;
}

/** Serve options with every default filled in, as the server's internals take them. */
export type FilledServeOptions = Required<
  Omit<ServeOptions, 'model' | 'modelRepository' | 'variant' | 'adminToken' | 'grpcPort'>
> &
  Pick<ServeOptions, 'model' | 'modelRepository' | 'variant' | 'adminToken' | 'grpcPort'> & {
    readonly modelOverrides: Readonly<Partial<ModelSettings>>;
  };

/**
 * Defaults, from the CPU count. Instances × intra-op threads equal the cores, so threads never
 * fight over them, and instances are few — one per four cores — because every instance splits
 * the queue and makes batches smaller (BENCHMARKS.md has the measurements). Spinning stays off:
 * idle spinning threads would take the cores the HTTP thread needs. The batching delay is `auto`:
 * measured on both a heavy and a light model, it beat a fixed delay and no delay at all.
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

/**
 * Connections a server accepts by default: the process's open-file limit less 128 descriptors
 * kept for models, logs, worker threads and Redis (Linux: /proc/self/limits), or 10,000 where the
 * limit cannot be read.
 */
export function defaultMaxConnections(): number {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1];
    if (soft === undefined || soft === 'unlimited') return 10_000;
    return Math.max(64, Math.min(10_000_000, Number(soft) - 128));
  } catch {
    return 10_000;
  }
}

/** The default budget of request bytes in flight: an eighth of the machine's memory, at least two bodies. */
export function defaultMaxBytesInFlight(bodyLimit: number, memory = totalmem()): number {
  return Math.max(2 * bodyLimit, Math.floor(memory / 8));
}

/** Defaults of the server's options (per-model settings default through `defaultModelSettings`). */
export const kDefaultServeOptions = {
  host: '127.0.0.1', // loopback unless the user says otherwise
  port: 8000,
  bodyLimit: 32 * 1024 * 1024, // 32 MiB
  headersTimeoutMs: 20_000, // Node's default is 60 s, checked every 30 s
  bodyTimeoutMs: 120_000, // a 32 MiB body at 300 KB/s
  maxConnections: defaultMaxConnections(),
  repositoryApi: true,
  allowedHosts: [],
  gracePeriodMs: 10_000, // 10 s
  unreadyDelayMs: 0, // the library closes at once; `mlscale serve` sets its own default
  logLevel: 'info',
  modelOverrides: {},
} as const satisfies Partial<FilledServeOptions>;

/** A host name or address as a Host header names it, without the port: `models.internal`, `10.0.0.5`, `[fd00::1]`. */
const kHostName = /^(?:[a-z0-9](?:[a-z0-9-]{0,62}\.?)*|\[[0-9a-f:.]+\])$/i;

/** pino's levels, `logLevel`'s choices. */
export const kLogLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The settings a `config.json` (or `modelOverrides`) may hold. */
export const kModelSettingKeys: readonly (keyof ModelSettings)[] = [
  'maxBatchSize',
  'maxQueueDelayMs',
  'maxQueue',
  'instances',
  'intraOpThreads',
  'allowSpinning',
  'requestTimeoutMs',
  'loadTimeoutMs',
];

/**
 * Validates and fills serve options; the result is frozen.
 * @throws {InvalidOptionError} naming the option (`options.port must be an integer from 0 to 65535, got 70000`).
 */
export function resolveServeOptions(options: ServeOptions): Readonly<FilledServeOptions> {
  if (options === null || typeof options !== 'object') invalidOption('', 'an object', options);
  let o = { ...kDefaultServeOptions, ...dropUndefined(options) } as FilledServeOptions;
  if ((o.model === undefined) === (o.modelRepository === undefined)) {
    throw new InvalidOptionError(
      'give exactly one of options.model (an artifact folder or .onnx file) and options.modelRepository (a folder of models)',
      { option: 'model' },
    );
  }
  if (o.model !== undefined && (typeof o.model !== 'string' || o.model === ''))
    invalidOption('model', 'an artifact folder or .onnx file', o.model);
  if (
    o.modelRepository !== undefined &&
    (typeof o.modelRepository !== 'string' || o.modelRepository === '')
  )
    invalidOption('modelRepository', 'a folder of models', o.modelRepository);
  if (
    o.variant !== undefined &&
    (typeof o.variant !== 'string' ||
      !/^[a-z0-9][a-z0-9_-]{0,31}$/.test(o.variant) ||
      o.model === undefined)
  ) {
    invalidOption(
      'variant',
      "a variant name such as int8, fp16 or graph (lower-case letters, digits, '-', '_'), with options.model a model folder",
      o.variant,
    );
  }
  if (typeof o.host !== 'string' || o.host === '')
    invalidOption('host', 'a host name or address', o.host);
  checkInteger('port', o.port, 0, 65535);
  if (o.grpcPort !== undefined) {
    checkInteger('grpcPort', o.grpcPort, 0, 65535);
    if (o.grpcPort === o.port && o.port !== 0)
      throw new InvalidOptionError(
        `options.grpcPort must differ from options.port (the HTTP port), both are ${o.port}`,
        { option: 'grpcPort' },
      );
  }
  checkInteger('bodyLimit', o.bodyLimit, 1024, 2 ** 31);
  checkInteger('headersTimeoutMs', o.headersTimeoutMs, 100, 3_600_000);
  checkInteger('bodyTimeoutMs', o.bodyTimeoutMs, 100, 3_600_000);
  if (o.headersTimeoutMs > o.bodyTimeoutMs)
    invalidOption(
      'headersTimeoutMs',
      `at most options.bodyTimeoutMs (${o.bodyTimeoutMs}), which covers the headers too`,
      o.headersTimeoutMs,
    );
  checkInteger('maxConnections', o.maxConnections, 1, 10_000_000);
  if ((options as ServeOptions).maxBytesInFlight === undefined)
    o = { ...o, maxBytesInFlight: defaultMaxBytesInFlight(o.bodyLimit) };
  checkInteger('maxBytesInFlight', o.maxBytesInFlight, o.bodyLimit, Number.MAX_SAFE_INTEGER);
  checkInteger('gracePeriodMs', o.gracePeriodMs, 0, 3_600_000);
  checkInteger('unreadyDelayMs', o.unreadyDelayMs, 0, 600_000);
  if (o.adminToken !== undefined && (typeof o.adminToken !== 'string' || o.adminToken.length < 8))
    invalidOption('adminToken', 'a string of at least 8 characters', '<hidden>');
  if (
    !Array.isArray(o.allowedHosts) ||
    !o.allowedHosts.every((h) => typeof h === 'string' && kHostName.test(h))
  )
    invalidOption(
      'allowedHosts',
      'a list of host names without scheme or port (e.g. ["models.internal"])',
      o.allowedHosts,
    );
  o = { ...o, allowedHosts: Object.freeze(o.allowedHosts.map((h) => h.toLowerCase())) };
  if (typeof o.repositoryApi !== 'boolean')
    invalidOption('repositoryApi', 'true or false', o.repositoryApi);
  checkOneOf('logLevel', o.logLevel, kLogLevels);
  if (o.modelOverrides === null || typeof o.modelOverrides !== 'object')
    invalidOption('modelOverrides', 'an object of per-model settings', o.modelOverrides);
  const overrides = dropUndefined(o.modelOverrides);
  for (const key of Object.keys(overrides)) {
    if (!(kModelSettingKeys as readonly string[]).includes(key))
      invalidOption(
        `modelOverrides.${key}`,
        `left out: the per-model settings are ${kModelSettingKeys.join(', ')}`,
        overrides[key as keyof ModelSettings],
      );
  }
  validateModelSettings(overrides, (key, expected, given) =>
    invalidOption(`modelOverrides.${key}`, expected, given),
  );
  return Object.freeze({ ...o, modelOverrides: Object.freeze(overrides) });
}

/**
 * Checks per-model settings; `fail` throws the error for one, naming it as its source does (an
 * option, or a config.json key).
 */
export function validateModelSettings(
  s: Partial<ModelSettings>,
  fail: (key: keyof ModelSettings, expected: string, given: unknown) => never,
): void {
  const integer = (key: keyof ModelSettings, min: number, max: number): void => {
    const v = s[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max))
      fail(key, `an integer from ${min} to ${max}`, v);
  };
  integer('maxBatchSize', 0, 1 << 20);
  if (s.maxQueueDelayMs !== undefined && s.maxQueueDelayMs !== 'auto') {
    if (
      typeof s.maxQueueDelayMs !== 'number' ||
      !(s.maxQueueDelayMs >= 0 && s.maxQueueDelayMs <= 60_000)
    ) {
      fail(
        'maxQueueDelayMs',
        'a number of milliseconds from 0 to 60000, or "auto"',
        s.maxQueueDelayMs,
      );
    }
  }
  integer('maxQueue', 1, 1 << 24);
  integer('instances', 1, 256);
  integer('intraOpThreads', 1, 256);
  if (s.allowSpinning !== undefined && typeof s.allowSpinning !== 'boolean')
    fail('allowSpinning', 'true or false', s.allowSpinning);
  integer('requestTimeoutMs', 1, 3_600_000);
  integer('loadTimeoutMs', 1000, 86_400_000);
}
