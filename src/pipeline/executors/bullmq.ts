/**
 * The `bullmq` executor: the pipeline's batches as BullMQ jobs on Redis, run by `mlscale worker`
 * processes on any number of machines — horizontal scaling.
 *
 * Each `map` call is one round: one job per batch, added in bulk with a deterministic id
 * (`run.start.round.batch`), so a batch is queued once. Inputs and outputs are packed with msgpack
 * (binary typed arrays) and ride in the job and its return value when small, or go through the
 * round's Redis hashes when large (see bullmq-protocol.ts). The driver learns of completions from
 * QueueEvents (the event carries a small output itself) and, as a fallback for missed events, by
 * polling; the first output of a batch counts, so a batch that runs twice counts once. It returns
 * the outputs in call order, which is all the pipeline needs for bitwise-identical results.
 *
 * Why plain jobs and not a FlowProducer parent per round: a flow's parent job exists to run an
 * aggregation step on a worker when its children are done. Here the aggregation is the driver's
 * (it needs the outputs in batch-id order and holds the state between rounds), so a parent job
 * would be one more job per round that some worker must pick up, plus child-failure bookkeeping,
 * for nothing the driver does not already know from the events. A failed child cannot leave a
 * parent waiting forever because there is no parent: the driver sees the failure (event or poll)
 * and fails the round.
 *
 * Fault tolerance is BullMQ's: a worker that dies mid-batch stops renewing its job's lock, another
 * worker's stalled-job check puts the job back in the queue, and it runs again elsewhere; a task
 * that throws is retried with exponential backoff up to `attempts` times, then fails the run with
 * the batch id and the error.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import { ExecutorClosedError, InvalidOptionError, RedisUnavailableError, TaskFailedError } from '../../errors.js';
import { version } from '../../version.js';
import {
  decodePayload,
  encodePayload,
  kDefaultPrefix,
  kEventStreamLength,
  kInlinePayloadBytes,
  kPayloadTtlSeconds,
  kTaskQueue,
  parseFailure,
  returnedBytes,
  returnedWorker,
  payloadKeys,
  splitShared,
  startsKey,
  taskJobId,
  type TaskJobData,
} from './bullmq-protocol.js';
import type { CheckpointStore, Executor, TaskCall, TaskRef } from './executor.js';
import type { Redis } from 'ioredis';
import { parseRedisUrl, payloadClient, probeRedis, type RedisTarget } from './redis-connection.js';
import { fromErrorPayload } from './task-envelope.js';
import { moduleUrl } from './task-loader.js';

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

/** What the run's jobs did so far, across all workers, from the queue's events. */
export interface BullmqActivity {
  /** Batches completed. */
  completed: number;
  /** Attempts that failed and were retried (after backoff). */
  retried: number;
  /** Batches whose worker died or stopped renewing its lock, put back in the queue. */
  stalled: number;
  /** Batches that failed for good. */
  failed: number;
  /** Worker processes connected to the queue (-1 when Redis does not say). */
  workers: number;
  /** Worker processes that ran at least one of this executor's batches. */
  workersUsed: number;
}

/** What one round is waiting for. */
interface RoundWait {
  /** jobId → index in the calls. */
  readonly pending: Map<string, number>;
  readonly onEvent: (kind: 'completed' | 'failed', jobId: string, detail?: unknown) => void;
}

/** Runs tasks as BullMQ jobs on `mlscale worker` processes. */
export class BullmqExecutor implements Executor {
  readonly kind = 'bullmq';
  readonly remote = true;
  readonly concurrency: number;
  /** This run's id: jobs are `<run>.<driver start>.<round>.<batch>`. */
  readonly run: string;
  readonly #target: RedisTarget;
  readonly #prefix: string;
  readonly #attempts: number;
  readonly #backoffMs: number;
  readonly #connectTimeoutMs: number;
  readonly #outageTimeoutMs: number;
  readonly #keepFailedSeconds: number;
  readonly #pollMs: number;
  readonly #rounds = new Map<string, RoundWait>();
  #queue: Queue<TaskJobData> | undefined;
  #events: QueueEvents | undefined;
  #redis: Redis | undefined;
  #connecting: Promise<void> | undefined;
  #onActivity: ((activity: Readonly<BullmqActivity>) => void) | undefined;
  /** What this run's jobs did so far. */
  readonly activity: BullmqActivity = { completed: 0, retried: 0, stalled: 0, failed: 0, workers: -1, workersUsed: 0 };
  /** Names (`host:pid`) of the workers that ran this executor's batches. */
  readonly #ranBy = new Set<string>();
  #round = 0;
  /** Which start of this run's driver this is (1, then 2 after a resume...). */
  #start = 0;
  #closed = false;

  /**
   * The run's checkpoint, one Redis key beside the queue (msgpack, binary weights), kept as long
   * as failed jobs are: `--resume <run>` within that time continues the run.
   */
  readonly checkpoints: CheckpointStore = {
    load: async () => {
      await this.#connect();
      const bytes = await this.#retrying('read the checkpoint', () => this.#redis!.getBuffer(this.#checkpointKey()));
      return bytes === null ? undefined : decodePayload<unknown>(bytes);
    },
    save: async (state) => {
      await this.#connect();
      const bytes = encodePayload(state);
      await this.#retrying('save the checkpoint', () => this.#redis!.set(this.#checkpointKey(), bytes, 'EX', this.#keepFailedSeconds));
    },
    clear: async () => {
      await this.#connect();
      await this.#retrying('clear the checkpoint', () => this.#redis!.del(this.#checkpointKey(), startsKey(this.#prefix, this.run)));
    },
  };

  /** Retries a Redis command through an outage, up to the outage limit. */
  async #retrying<T>(what: string, command: () => Promise<T>): Promise<T> {
    const since = Date.now();
    for (;;) {
      try {
        return await command();
      } catch (err) {
        if (Date.now() - since > this.#outageTimeoutMs) {
          throw new RedisUnavailableError(`could not ${what}: lost Redis at ${this.#target.display} for more than ${this.#outageTimeoutMs} ms: ${(err as Error).message}`, { cause: err });
        }
        await new Promise((r) => setTimeout(r, Math.min(500, this.#pollMs)));
      }
    }
  }

  #checkpointKey(): string {
    return `${this.#prefix}:${kTaskQueue}:checkpoint:${this.run}`;
  }

  constructor(options: BullmqExecutorOptions) {
    if (typeof options.redis !== 'string' || options.redis === '') {
      throw new InvalidOptionError('--redis is required with --executor bullmq: the URL of the queue\'s Redis, e.g. redis://127.0.0.1:6379');
    }
    this.#target = parseRedisUrl(options.redis, '--redis', { ca: options.redisCa });
    this.#prefix = options.prefix ?? kDefaultPrefix;
    if (this.#prefix === '' || /[\s{}]/.test(this.#prefix)) throw new InvalidOptionError(`--prefix must be a non-empty name without spaces or braces, got ${JSON.stringify(this.#prefix)}`);
    this.run = options.run ?? `run-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    if (!/^[\w-]+$/.test(this.run)) throw new InvalidOptionError(`a run id is letters, digits, '_' and '-', got ${JSON.stringify(this.run)}`);
    this.concurrency = positiveInt('workers', options.concurrency ?? 4);
    this.#attempts = positiveInt('attempts', options.attempts ?? 3);
    this.#backoffMs = options.backoffMs ?? 1000;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.#outageTimeoutMs = options.outageTimeoutMs ?? 30_000;
    this.#keepFailedSeconds = options.keepFailedSeconds ?? 7 * 24 * 3600;
    this.#pollMs = options.pollMs ?? 1000;
    this.#onActivity = options.onActivity;
  }

  /** Replaces the `onActivity` listener. */
  setActivityListener(listener: ((activity: Readonly<BullmqActivity>) => void) | undefined): void {
    this.#onActivity = listener;
  }

  /** Worker processes that ran at least one of this executor's batches so far. */
  get workersUsed(): number {
    return this.#ranBy.size;
  }

  /** Notes the worker named in a completed job's return value. */
  #ranOn(value: unknown): void {
    const worker = returnedWorker(value);
    if (worker === undefined || this.#ranBy.has(worker)) return;
    this.#ranBy.add(worker);
    this.activity.workersUsed = this.#ranBy.size;
    this.#onActivity?.(this.activity);
  }

  /** Counts an event of one of this run's jobs. */
  #count(key: Exclude<keyof BullmqActivity, 'workers' | 'workersUsed'>, jobId: string): void {
    if (!jobId.startsWith(`${this.run}.${this.#start}.`)) return;
    this.activity[key]++;
    this.#onActivity?.(this.activity);
  }

  /** Asks Redis how many workers listen on the queue. */
  async #countWorkers(): Promise<void> {
    try {
      const workers = await this.#queue!.getWorkersCount();
      if (workers !== this.activity.workers) {
        this.activity.workers = workers;
        this.#onActivity?.(this.activity);
      }
    } catch {
      // CLIENT LIST can be disabled on managed Redis: the count stays unknown.
    }
  }

  async map<I, O>(task: TaskRef, calls: readonly TaskCall<I>[]): Promise<O[]> {
    if (this.#closed) throw new ExecutorClosedError('bullmq executor is closed');
    if (calls.length === 0) return [];
    const ids = new Set(calls.map((c) => c.id));
    if (ids.size !== calls.length) throw new InvalidOptionError('bullmq executor: the calls of one map must have distinct batch ids (results are keyed by batch id)');
    await this.#connect();
    const queue = this.#queue!;
    const client = this.#redis!;
    const round = `${this.#start}.${this.#round++}`;
    const keys = payloadKeys(this.#prefix, this.run, round);
    const ref = { module: moduleUrl(task.module), name: task.name };

    const out: O[] = new Array(calls.length);
    const pending = new Map<string, number>(calls.map((c, i) => [taskJobId(this.run, round, c.id), i]));
    let finish!: (err?: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      finish = (err) => (err === undefined ? resolve() : reject(err));
    });
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      finish(err);
    };

    // Redis errors do not fail the round at once: ioredis reconnects, and the poll below resubmits
    // what a restarted Redis lost. Only an outage longer than the limit fails the run.
    let outageSince: number | undefined;
    const redisOk = () => (outageSince = undefined);
    const redisFailed = (err: unknown) => {
      outageSince ??= Date.now();
      if (Date.now() - outageSince > this.#outageTimeoutMs) {
        settle(new RedisUnavailableError(`lost Redis at ${this.#target.display} for more than ${this.#outageTimeoutMs} ms mid-run: ${(err as Error).message}`, { cause: err }));
      }
    };

    /** Takes a job's packed output; the first one counts, later copies are ignored. */
    const accept = (jobId: string, bytes: Buffer): void => {
      const index = pending.get(jobId);
      if (index === undefined || settled) return;
      out[index] = decodePayload<O>(bytes);
      pending.delete(jobId);
      if (pending.size === 0) settle();
    };

    /** Reads the outputs of `jobIds` that are in the output hash. */
    const read = async (jobIds: string[]): Promise<void> => {
      if (jobIds.length === 0) return;
      const values = await client.hmgetBuffer(keys.outputs, ...jobIds.map((id) => String(calls[pending.get(id)!]!.id)));
      values.forEach((bytes: Buffer | null, k: number) => {
        if (bytes !== null) accept(jobIds[k]!, bytes);
      });
    };

    // What every call shares travels once for the round (see splitShared).
    const { shared, own } = splitShared(calls.map((c) => c.input));
    const sharedBytes = shared === undefined ? undefined : encodePayload(shared);

    /** Stores the inputs and adds the jobs of `jobIds`; an existing job id is left as it is. */
    const submit = async (jobIds: string[]): Promise<void> => {
      if (jobIds.length === 0) return;
      const indexes = jobIds.map((id) => pending.get(id)!);
      const fields: (string | Buffer)[] = [];
      const inline = new Map<number, string>();
      for (const i of indexes) {
        const bytes = encodePayload(own[i]);
        if (bytes.length <= kInlinePayloadBytes) inline.set(calls[i]!.id, bytes.toString('base64'));
        else fields.push(String(calls[i]!.id), bytes);
      }
      if (fields.length > 0 || sharedBytes !== undefined) {
        const multi = client.multi();
        if (sharedBytes !== undefined) multi.set(keys.shared, sharedBytes, 'EX', kPayloadTtlSeconds);
        if (fields.length > 0) multi.hset(keys.inputs, ...fields).expire(keys.inputs, kPayloadTtlSeconds);
        await multi.exec();
      }
      const subset = indexes.map((i) => calls[i]!);
      await queue.addBulk(
        subset.map((c) => ({
          name: `batch ${c.id}`,
          data: { version, run: this.run, round, batch: c.id, module: ref.module, name: ref.name, input: inline.get(c.id), shared: sharedBytes === undefined ? undefined : true } satisfies TaskJobData,
          opts: {
            jobId: taskJobId(this.run, round, c.id),
            attempts: this.#attempts,
            backoff: { type: 'exponential', delay: this.#backoffMs },
            // Removed at once: the output reached the driver in the completed event (or sits in
            // the output hash). Keeping completed jobs cost three more Redis commands a job (the
            // completed set and its age and count trimming). A job whose event was lost is found
            // gone by the poll and run again (outputs are keyed by batch: the first one counts).
            removeOnComplete: true,
            removeOnFail: { age: this.#keepFailedSeconds },
          },
        })),
      );
    };

    // An event asks for its own job's output; the poll asks for all pending ones. Overlapping
    // requests are coalesced.
    let collecting: Promise<void> | undefined;
    let again = false;
    let wantAll = false;
    const wanted = new Set<string>();
    const collect = (jobId?: string): void => {
      if (jobId === undefined) wantAll = true;
      else wanted.add(jobId);
      if (collecting) {
        again = true;
        return;
      }
      collecting = (async () => {
        do {
          again = false;
          if (settled || pending.size === 0) return;
          const jobIds = wantAll ? [...pending.keys()] : [...wanted].filter((id) => pending.has(id));
          wantAll = false;
          wanted.clear();
          await read(jobIds);
          redisOk();
        } while (again);
      })()
        .catch((err: unknown) => {
          wantAll = true;
          redisFailed(err);
        })
        .finally(() => (collecting = undefined));
    };

    const fail = async (jobId: string, reasonFromEvent?: string): Promise<void> => {
      const index = pending.get(jobId);
      if (index === undefined || settled) return;
      const batchId = calls[index]!.id;
      let reason = reasonFromEvent ?? 'failed';
      let attempts: number | undefined;
      try {
        const job = await queue.getJob(jobId);
        if (job) {
          reason = job.failedReason || reason;
          attempts = job.attemptsMade;
        }
      } catch {
        // The event's reason is enough.
      }
      const { name, message } = parseFailure(reason);
      const tried = attempts === undefined ? '' : `after ${attempts} attempt${attempts === 1 ? '' : 's'}`;
      const err = fromErrorPayload({ name, message }, batchId);
      // A TaskFailedError's message names the batch already; a coded error's does not.
      err.message += err instanceof TaskFailedError ? (tried ? ` (${tried})` : '') : ` (batch ${batchId}${tried ? `, ${tried}` : ''})`;
      settle(err);
    };

    /**
     * The fallback for what events cannot tell: asks Redis for the state of the pending jobs; fails
     * the round on a failed one whose event was missed, and resubmits jobs that no longer exist
     * without an output (Redis restarted without persistence, or the first submit failed).
     */
    let checking = false;
    const missingBefore = new Set<string>();
    const check = async (): Promise<void> => {
      if (checking || settled) return;
      checking = true;
      try {
        const jobIds = [...pending.keys()];
        const states = await Promise.all(jobIds.map((id) => queue.getJobState(id)));
        const failed = jobIds.find((_, k) => states[k] === 'failed');
        if (failed !== undefined) return void (await fail(failed));
        const completed = jobIds.filter((_, k) => states[k] === 'completed');
        const jobs = await Promise.all(completed.map((id) => queue.getJob(id)));
        jobs.forEach((job, k) => {
          this.#ranOn(job?.returnvalue);
          const bytes = returnedBytes(job?.returnvalue);
          if (bytes) accept(completed[k]!, bytes);
        });
        // A job that does not exist either never got in (Redis restarted, the submit failed) or
        // completed and was removed while its event is still on the way: it is resubmitted only
        // when it is still missing at the next check.
        const missing = jobIds.filter((_, k) => states[k] === 'unknown');
        const lost = missing.filter((id) => missingBefore.has(id));
        missingBefore.clear();
        for (const id of missing) missingBefore.add(id);
        await read(lost);
        await submit(lost.filter((id) => pending.has(id)));
        redisOk();
      } catch (err) {
        redisFailed(err);
      } finally {
        checking = false;
      }
    };

    const prefixOfRound = `${this.run}.${round}.`;
    this.#rounds.set(prefixOfRound, {
      pending,
      onEvent: (kind, jobId, detail) => {
        if (kind === 'failed') return void fail(jobId, detail as string | undefined);
        this.#ranOn(detail);
        const bytes = returnedBytes(detail);
        if (bytes) accept(jobId, bytes);
        else collect(jobId);
      },
    });

    // QueueEvents is listening before the jobs exist, so no event is missed while Redis stays up;
    // the poll covers reconnects.
    let ticks = 0;
    // The watchdog does not wait on any command (one may hang while Redis is away): the payload
    // connection not being ready for longer than the limit fails the run.
    let downSince: number | undefined;
    const poll = setInterval(() => {
      if (client.status === 'ready') downSince = undefined;
      else {
        downSince ??= Date.now();
        if (Date.now() - downSince > this.#outageTimeoutMs) {
          settle(new RedisUnavailableError(`lost Redis at ${this.#target.display} for more than ${this.#outageTimeoutMs} ms mid-run (connection ${client.status})`));
        }
      }
      collect();
      if (++ticks % 5 === 0 || outageSince !== undefined) {
        void check();
        void this.#countWorkers();
      }
    }, this.#pollMs);

    try {
      try {
        await submit([...pending.keys()]);
      } catch (err) {
        redisFailed(err);
      }
      await done;
      return out;
    } finally {
      clearInterval(poll);
      this.#rounds.delete(prefixOfRound);
      const cleanup = (async () => {
        if (pending.size > 0) {
          // A failed round: take its other jobs off the queue (running ones finish and are ignored).
          await Promise.allSettled([...pending.keys()].map((id) => queue.remove(id)));
        }
        await client.del(keys.inputs, keys.outputs, keys.shared).catch(() => undefined);
      })();
      // Best effort: with Redis away, the payloads expire on their own.
      await bounded(cleanup, 2000);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await bounded(this.#connecting?.catch(() => undefined), this.#connectTimeoutMs + 1000);
    const reachable = this.#redis === undefined || this.#redis.status === 'ready';
    const closed = reachable && (await bounded(Promise.allSettled([this.#events?.close(), this.#queue?.close(), this.#redis?.quit()]), 3000));
    if (!closed) {
      // Redis is away: drop the connections instead of waiting for it.
      this.#redis?.disconnect();
      await bounded(Promise.allSettled([this.#events?.disconnect(), this.#queue?.disconnect()]), 1000);
    }
  }

  /** Checks Redis once, then opens the queue and its event stream. */
  #connect(): Promise<void> {
    this.#connecting ??= (async () => {
      await probeRedis(this.#target, this.#connectTimeoutMs);
      const connection = this.#target.bullmq;
      const queue = new Queue<TaskJobData>(kTaskQueue, { connection: { ...connection }, prefix: this.#prefix, streams: { events: { maxLen: kEventStreamLength } } });
      const events = new QueueEvents(kTaskQueue, { connection: { ...connection, maxRetriesPerRequest: null }, prefix: this.#prefix });
      this.#redis = payloadClient(this.#target, `mlscale-driver-${this.run}`);
      const starts = startsKey(this.#prefix, this.run);
      const [[, start]] = (await this.#redis.multi().incr(starts).expire(starts, this.#keepFailedSeconds).exec()) as [[unknown, number]];
      this.#start = start;
      // Connection errors are retried by ioredis; the round's outage timer decides when to give up.
      queue.on('error', () => undefined);
      events.on('error', () => undefined);
      events.on('completed', ({ jobId, returnvalue }) => {
        this.#count('completed', jobId);
        this.#dispatch('completed', jobId, returnvalue);
      });
      events.on('failed', ({ jobId, failedReason }) => {
        this.#count('failed', jobId);
        this.#dispatch('failed', jobId, failedReason);
      });
      events.on('delayed', ({ jobId }) => this.#count('retried', jobId));
      events.on('waiting', ({ jobId, prev }) => prev === 'failed' && this.#count('retried', jobId));
      events.on('stalled', ({ jobId }) => this.#count('stalled', jobId));
      this.#queue = queue;
      this.#events = events;
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
      await this.#countWorkers();
    })();
    return this.#connecting;
  }

  #dispatch(kind: 'completed' | 'failed', jobId: string, detail?: unknown): void {
    const cut = jobId.lastIndexOf('.');
    const round = this.#rounds.get(jobId.slice(0, cut + 1));
    if (round?.pending.has(jobId)) round.onEvent(kind, jobId, detail);
  }
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new InvalidOptionError(`options.${name} must be a positive integer, got ${String(v)}`);
  return v;
}

/** Waits for `promise` at most `ms`; true if it settled in time. */
async function bounded(promise: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (promise === undefined) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
