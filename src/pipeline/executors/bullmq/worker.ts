/**
 * The process side of the `bullmq` executor: what `mlscale worker` runs on every worker machine.
 *
 * A BullMQ Worker takes task jobs from Redis; each job's input is read from the round's input hash,
 * the task runs on one of the process's worker threads (at most one per core) (the same thread-worker module the `threads`
 * executor uses), and the packed output is written once to the round's output hash. The task never
 * runs on this process's event loop, so BullMQ keeps renewing the job's lock however long and
 * CPU-heavy the stage is; only a process that really died lets its jobs stall and run elsewhere.
 *
 * @module
 */
import {
  bullmqTelemetry,
  enablePipelineTracing,
  flushPipelineTracing,
} from '../../../telemetry/pipeline-tracing.js';
import { localCache } from '../../../data/cached-batch.js';
import { availableParallelism, hostname } from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { InvalidOptionError, TaskFailedError } from '../../../errors.js';
import { siblingModuleUrl } from '../../../util/module-url.js';
import { version } from '../../../version.js';
import {
  formatFailure,
  hashReturn,
  inlineReturn,
  kDefaultPrefix,
  kPayloadTtlSeconds,
  kTaskQueue,
  payloadKeys,
  type TaskJobData,
} from './protocol.js';
import type { Redis } from 'ioredis';
import { parseRedisUrl, payloadClient, probeRedis } from './redis-connection.js';
import type { TaskEnvelope } from '../task-envelope.js';
import { TaskThreads } from '../threads/task-threads.js';
import type { ThreadRequest } from '../threads/thread-worker.js';

/** Options of a worker process. */
export interface DistributedWorkerOptions {
  /** `redis://` or `rediss://` URL. */
  readonly redis: string;
  /** A PEM file of the CA that signed a `rediss://` Redis's certificate (`--redis-ca`). */
  readonly redisCa?: string;
  /** Key prefix shared with the driver. Default `mlscale`. */
  readonly prefix?: string;
  /** Jobs run at once. Default 1. */
  readonly concurrency?: number;
  /**
   * Worker threads the jobs run on. Default: `concurrency`, but at most the CPU count. Stages are
   * CPU-bound, so threads beyond the cores add no compute, only context switches: with 16 threads
   * on 2 cores a no-op batch's trip to a thread and back cost 336 µs of CPU, against 69 µs with 2
   * (bench:distributed's profile section). Jobs beyond the threads share them: an async stage
   * (a file read, an onnxruntime run) interleaves with the others on its thread.
   */
  readonly threads?: number;
  /**
   * Run stages measured to be trivial (64 runs in a row under 1 ms on a thread) on the process's
   * main thread instead of paying a thread round trip per batch; default true. See `TaskThreads`.
   */
  readonly inlineFastStages?: boolean;
  /** How long a job's lock lasts without renewal (BullMQ `lockDuration`). Default 30 s. */
  readonly lockDurationMs?: number;
  /** How often this worker looks for stalled jobs of dead workers (BullMQ `stalledInterval`). Default 30 s. */
  readonly stalledIntervalMs?: number;
  /** Times a job may stall (its worker died) before it fails. Default 3. */
  readonly maxStalledCount?: number;
  /** Time allowed to reach Redis at start. Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** Log lines (start, job failures, shutdown). Default: none. */
  readonly log?: (line: string) => void;
}

/** What a worker has done so far. */
export interface WorkerCounts {
  completed: number;
  failed: number;
}

/** One `mlscale worker`: a BullMQ Worker feeding a pool of worker threads. */
export class DistributedWorker {
  /** `host:pid`, named in errors and in Redis's client list. */
  readonly name: string;
  readonly concurrency: number;
  /** Worker threads the jobs run on. */
  readonly threads: number;
  readonly counts: WorkerCounts = { completed: 0, failed: 0 };
  readonly #worker: Worker<TaskJobData>;
  readonly #pool: TaskThreads;
  #closing: Promise<void> | undefined;

  readonly #client: Redis;

  private constructor(
    worker: Worker<TaskJobData>,
    pool: TaskThreads,
    client: Redis,
    name: string,
    concurrency: number,
    threads: number,
  ) {
    this.threads = threads;
    this.#worker = worker;
    this.#client = client;
    this.#pool = pool;
    this.name = name;
    this.concurrency = concurrency;
  }

  /** Connects (failing within the connect timeout if Redis does not answer) and starts taking jobs. */
  static async start(options: DistributedWorkerOptions): Promise<DistributedWorker> {
    const target = parseRedisUrl(options.redis, 'redis', { ca: options.redisCa });
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024) {
      throw new InvalidOptionError(
        `--concurrency must be an integer from 1 to 1024, got ${JSON.stringify(concurrency)}`,
      );
    }
    const threads = options.threads ?? Math.min(concurrency, availableParallelism());
    if (!Number.isInteger(threads) || threads < 1 || threads > concurrency) {
      throw new InvalidOptionError(
        `--threads must be an integer from 1 to --concurrency (${concurrency}), got ${JSON.stringify(threads)}`,
      );
    }
    for (const [flag, v] of [
      ['--lock-duration-ms', options.lockDurationMs],
      ['--stalled-interval-ms', options.stalledIntervalMs],
    ] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 100))
        throw new InvalidOptionError(
          `${flag} must be an integer of at least 100, got ${JSON.stringify(v)}`,
        );
    }
    await probeRedis(target, options.connectTimeoutMs ?? 5000);
    const prefix = options.prefix ?? kDefaultPrefix;
    const name = `${hostname()}:${process.pid}`;
    const log = options.log ?? (() => undefined);
    // The process's own batch cache: created here, on the main thread, so that it is removed when
    // the process exits (threads store into the same folder).
    localCache();
    const pool = new TaskThreads(
      threads,
      new URL(siblingModuleUrl(import.meta.url, '../threads/thread-entry')),
      {
        inlineFastStages: options.inlineFastStages ?? true,
        onStageMoved: log,
      },
    );
    let self: DistributedWorker | undefined;
    const client = payloadClient(target, `mlscale-worker-${name}`);
    // OTEL_* variables ask for traces: each job's span continues the driver's trace.
    const telemetry = (await enablePipelineTracing(process.env, log))
      ? await bullmqTelemetry()
      : undefined;
    const worker: Worker<TaskJobData> = new Worker<TaskJobData>(
      kTaskQueue,
      async (job: Job<TaskJobData>): Promise<string> => runJob(job, { client, pool, prefix, name }),
      {
        connection: { ...target.bullmq, maxRetriesPerRequest: null },
        prefix,
        concurrency,
        name,
        lockDuration: options.lockDurationMs ?? 30_000,
        stalledInterval: options.stalledIntervalMs ?? 30_000,
        maxStalledCount: options.maxStalledCount ?? 3,
        autorun: false,
        ...(telemetry ? { telemetry } : {}),
      },
    );
    worker.on('completed', () => self && self.counts.completed++);
    worker.on('failed', (job: Job<TaskJobData> | undefined, err: Error) => {
      if (self) self.counts.failed++;
      log(
        `batch ${job?.data.batch ?? '?'} of run ${job?.data.run ?? '?'} failed (attempt ${job?.attemptsMade ?? '?'}): ${err.message}`,
      );
    });
    worker.on('error', (err: Error) => log(`redis: ${err.message}`));
    self = new DistributedWorker(worker, pool, client, name, concurrency, threads);
    void worker.run().catch((err: Error) => log(`worker stopped: ${err.message}`));
    await worker.waitUntilReady();
    return self;
  }

  /** Stops taking jobs, lets the running ones finish and report, then stops the threads. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#worker.close();
      await this.#pool.destroy();
      await this.#client.quit().catch(() => undefined);
      await flushPipelineTracing().catch(() => undefined);
    })();
    return this.#closing;
  }
}

/**
 * The rounds' shared inputs this process has read: one GET per round and process, however many of
 * the round's jobs it runs. A round that is gone (null) is not kept.
 */
const sharedInputs = {
  rounds: new Map<string, Promise<Buffer | null>>(),
  get(client: Redis, round: string, key: string): Promise<Buffer | null> {
    let bytes = this.rounds.get(round);
    if (bytes === undefined) {
      bytes = client.getBuffer(key);
      this.rounds.set(round, bytes);
      // Rounds run one after another: a few are plenty (one per driver running at once), and
      // each may hold a model's weights. An evicted round is only read again.
      if (this.rounds.size > 4) this.rounds.delete(this.rounds.keys().next().value!);
      bytes.then(
        (b) => b === null && this.rounds.delete(round),
        () => this.rounds.delete(round),
      );
    }
    return bytes;
  },
};

interface JobContext {
  readonly client: Redis;
  readonly pool: TaskThreads;
  readonly prefix: string;
  readonly name: string;
}

/** Runs one task job. Throws (so BullMQ retries or fails it) with `<ErrorClass>: <message>`. */
async function runJob(
  job: Job<TaskJobData>,
  { client, pool, prefix, name }: JobContext,
): Promise<string> {
  const d = job.data;
  if (d.version !== version) {
    throw new UnrecoverableError(
      formatFailure(
        'WorkerIncompatibleError',
        `worker ${name} runs mlscale ${version} but the driver runs ${d.version}; run one version everywhere`,
      ),
    );
  }
  let input: string | Uint8Array;
  if (d.input !== undefined) input = d.input;
  else {
    const bytes = await client.hgetBuffer(
      payloadKeys(prefix, d.run, d.round).inputs,
      String(d.batch),
    );
    // The driver finished or abandoned the round: nothing to do.
    if (bytes === null) return 'gone';
    // An owned copy: the reply may be a view of a larger buffer, which structured clone would copy whole.
    input = new Uint8Array(bytes);
  }
  let shared: ThreadRequest['shared'];
  if (d.shared === true) {
    const key = `${d.run}:${d.round}`;
    const sharedBytes = await sharedInputs.get(
      client,
      key,
      payloadKeys(prefix, d.run, d.round).shared,
    );
    if (sharedBytes === null) return 'gone';
    shared = { key, bytes: sharedBytes };
  }
  let envelopes: TaskEnvelope<unknown>[];
  try {
    // The thread unpacks the input and packs the output (see ThreadRequest.packed).
    envelopes = (await pool.run({
      task: { module: d.module, name: d.name },
      inputs: [input],
      packed: true,
      shared,
    } satisfies ThreadRequest)) as TaskEnvelope<unknown>[];
  } catch (err) {
    // The thread itself died (out of memory, process.exit in a task): worth another attempt.
    throw new Error(
      formatFailure('Error', `worker thread failed: ${(err as Error).message} (worker ${name})`),
    );
  }
  const envelope = envelopes[0]!;
  if (!envelope.ok) {
    const reason = formatFailure(envelope.error.name, `${envelope.error.message} (worker ${name})`);
    // Coded errors are deterministic (bad data, a bad stages module): retrying cannot help. Anything
    // else (a crash, an I/O error) gets the job's remaining attempts, maybe on another worker.
    if (envelope.error.code !== undefined && envelope.error.name !== TaskFailedError.name)
      throw new UnrecoverableError(reason);
    throw new Error(reason);
  }
  // A small output came back as base64, ready to ride in the return value; a large one as bytes.
  if (typeof envelope.value === 'string') return inlineReturn(envelope.value, name);
  const packed = envelope.value as Uint8Array;
  const outputs = payloadKeys(prefix, d.run, d.round).outputs;
  await client
    .multi()
    .hsetnx(
      outputs,
      String(d.batch),
      Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength),
    )
    .expire(outputs, kPayloadTtlSeconds)
    .exec();
  return hashReturn(name);
}
