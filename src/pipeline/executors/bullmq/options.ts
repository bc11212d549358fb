/**
 * The options of the `bullmq` executor: their type, their defaults in one constant, and their
 * check, done once when the executor is built.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { InvalidOptionError } from '../../../errors.js';
import { kDefaultPrefix } from './protocol.js';
import type { BullmqActivity } from './activity.js';
import { parseRedisUrl, type RedisTarget } from './redis-connection.js';

/** Options of the bullmq executor. */
export interface BullmqExecutorOptions {
  /** `redis://` or `rediss://` URL of the queue's Redis. */
  readonly redis: string;
  /** A PEM file of the CA that signed a `rediss://` Redis's certificate (`--redis-ca`). */
  readonly redisCa?: string;
  /** Key prefix shared with the workers (`mlscale worker --prefix`). Default `mlscale`. */
  readonly prefix?: string;
  /** Run id, the namespace of this run's jobs and payloads. Default: a fresh random id. */
  readonly run?: string;
  /**
   * Worker slots the driver plans for (sum of the workers' concurrency): sets how many batches
   * are in flight per fit/evaluate window. Default 4.
   */
  readonly concurrency?: number;
  /** Attempts per batch before the run fails. Default 3. */
  readonly attempts?: number;
  /** First retry delay; doubles with each attempt. Default 1000 ms. */
  readonly backoffMs?: number;
  /** Time allowed to reach Redis at the start. Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** How long Redis may be unreachable mid-run before the run fails. Default 30 s. */
  readonly outageTimeoutMs?: number;
  /** Seconds a failed job is kept in Redis for inspection. Default 7 days. */
  readonly keepFailedSeconds?: number;
  /** How often the driver checks Redis for results when no event arrives. Default 1000 ms. */
  readonly pollMs?: number;
  /** Called when the run's activity changes (a batch done, a retry, the worker count...). */
  readonly onActivity?: (activity: Readonly<BullmqActivity>) => void;
}

/** The defaults of the options that have one (`prefix` is the protocol's, `run` is drawn fresh). */
export const kDefaultBullmqOptions = {
  concurrency: 4,
  attempts: 3,
  backoffMs: 1000, // ms, doubled at each retry
  connectTimeoutMs: 5000, // ms
  outageTimeoutMs: 30_000, // ms
  keepFailedSeconds: 7 * 24 * 3600, // s: a week
  pollMs: 1000, // ms
} as const;

/** The options once checked, with every default filled in. */
export interface ResolvedBullmqOptions {
  readonly target: RedisTarget;
  readonly prefix: string;
  readonly run: string;
  readonly concurrency: number;
  readonly attempts: number;
  readonly backoffMs: number;
  readonly connectTimeoutMs: number;
  readonly outageTimeoutMs: number;
  readonly keepFailedSeconds: number;
  readonly pollMs: number;
}

/**
 * Checks the options and fills in the defaults.
 *
 * @throws InvalidOptionError naming the option, what it must be and the value given.
 */
export function resolveBullmqOptions(
  options: BullmqExecutorOptions,
): Readonly<ResolvedBullmqOptions> {
  if (typeof options.redis !== 'string' || options.redis === '') {
    throw new InvalidOptionError(
      "options.redis is required with options.executor bullmq: the URL of the queue's Redis, e.g. redis://127.0.0.1:6379",
    );
  }
  const target = parseRedisUrl(options.redis, 'redis', { ca: options.redisCa });
  const prefix = options.prefix ?? kDefaultPrefix;
  if (prefix === '' || /[\s{}]/.test(prefix))
    throw new InvalidOptionError(
      `options.prefix must be a non-empty name without spaces or braces, got ${JSON.stringify(prefix)}`,
    );
  const run = options.run ?? `run-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  if (!/^[\w-]+$/.test(run))
    throw new InvalidOptionError(
      `a run id is letters, digits, '_' and '-', got ${JSON.stringify(run)}`,
    );
  const filled = { ...kDefaultBullmqOptions, ...withoutUndefined(options) };
  return Object.freeze({
    target,
    prefix,
    run,
    concurrency: positiveInt('workers', filled.concurrency),
    attempts: positiveInt('attempts', filled.attempts),
    backoffMs: filled.backoffMs,
    connectTimeoutMs: filled.connectTimeoutMs,
    outageTimeoutMs: filled.outageTimeoutMs,
    keepFailedSeconds: filled.keepFailedSeconds,
    pollMs: filled.pollMs,
  });
}

/** The options given a value: an option passed as undefined takes its default. */
function withoutUndefined(options: BullmqExecutorOptions): Partial<typeof kDefaultBullmqOptions> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1)
    throw new InvalidOptionError(`options.${name} must be a positive integer, got ${String(v)}`);
  return v;
}
