/**
 * The `bullmq` executor: the pipeline's batches as BullMQ jobs on Redis, run by `mlscale worker`
 * processes on any number of machines — horizontal scaling.
 *
 * Each `map` call is one round (round.ts): one job per batch, added in bulk with a
 * deterministic id (`run.start.round.batch`), so a batch is queued once. Inputs and outputs are
 * packed with msgpack (binary typed arrays) and ride in the job and its return value when small,
 * or go through the round's Redis hashes when large (protocol.ts). The driver learns of
 * completions from QueueEvents (the event carries a small output itself) and, as a fallback for
 * missed events, by polling; the first output of a batch counts, so a batch that runs twice counts
 * once. It returns the outputs in call order, which is all the pipeline needs for
 * bitwise-identical results.
 *
 * This file is the executor's face: it checks its options (options.ts), connects, numbers
 * the rounds and routes the queue's events to them, counts activity (activity.ts), keeps
 * the run's checkpoint (checkpoints.ts) and closes.
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
import {
  bullmqTelemetry,
  enablePipelineTracing,
  flushPipelineTracing,
} from '../../../telemetry/pipeline-tracing.js';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { ExecutorClosedError, InvalidOptionError } from '../../../errors.js';
import { bounded } from '../../../util/bounded.js';
import { ActivityTracker, type BullmqActivity } from './activity.js';
import { redisCheckpoints } from './checkpoints.js';
import {
  resolveBullmqOptions,
  type BullmqExecutorOptions,
  type ResolvedBullmqOptions,
} from './options.js';
import { kEventStreamLength, kTaskQueue, startsKey, type TaskJobData } from './protocol.js';
import { TaskRound, type RoundContext, type RoundEvent } from './round.js';
import type { CheckpointStore, Executor, TaskCall, TaskRef } from '../executor.js';
import { payloadClient, probeRedis } from './redis-connection.js';
import { moduleUrl } from '../task-loader.js';

export type { BullmqActivity } from './activity.js';
export type { BullmqExecutorOptions } from './options.js';

/** Runs tasks as BullMQ jobs on `mlscale worker` processes. */
export class BullmqExecutor implements Executor {
  readonly kind = 'bullmq';
  readonly remote = true;
  readonly concurrency: number;
  /** This run's id: jobs are `<run>.<driver start>.<round>.<batch>`. */
  readonly run: string;
  readonly #options: Readonly<ResolvedBullmqOptions>;
  readonly #tracker: ActivityTracker;
  /** The rounds in progress, by the start of their job ids (`<run>.<round>.`). */
  readonly #rounds = new Map<string, TaskRound<unknown, unknown>>();
  #context: RoundContext | undefined;
  #queue: Queue<TaskJobData> | undefined;
  #events: QueueEvents | undefined;
  #redis: Redis | undefined;
  #connecting: Promise<void> | undefined;
  #round = 0;
  /** Which start of this run's driver this is (1, then 2 after a resume...). */
  #start = 0;
  readonly #recorded: (() => void)[] = [];
  #closed = false;

  /**
   * The run's checkpoint, one Redis key beside the queue (msgpack, binary weights), kept as long
   * as failed jobs are: `--resume <run>` within that time continues the run.
   */
  readonly checkpoints: CheckpointStore;

  constructor(options: BullmqExecutorOptions) {
    this.#options = resolveBullmqOptions(options);
    this.run = this.#options.run;
    this.concurrency = this.#options.concurrency;
    this.#tracker = new ActivityTracker(options.onActivity);
    this.checkpoints = redisCheckpoints(async () => {
      await this.#connect();
      return this.#redis!;
    }, this.#options);
  }

  /**
   * Calls `listener` once this run is recorded in Redis (at once if it is already): from then on
   * `--resume <run>` can continue it, so that is when a driver may say so.
   */
  onRunRecorded(listener: () => void): void {
    if (this.#start > 0) listener();
    else this.#recorded.push(listener);
  }

  /** What this run's jobs did so far. */
  get activity(): BullmqActivity {
    return this.#tracker.activity;
  }

  /** Replaces the `onActivity` listener. */
  setActivityListener(listener: ((activity: Readonly<BullmqActivity>) => void) | undefined): void {
    this.#tracker.listener = listener;
  }

  /** Worker processes that ran at least one of this executor's batches so far. */
  get workersUsed(): number {
    return this.#tracker.workersUsed;
  }

  async map<I, O>(task: TaskRef, calls: readonly TaskCall<I>[]): Promise<O[]> {
    if (this.#closed) throw new ExecutorClosedError('bullmq executor is closed');
    if (calls.length === 0) return [];
    const ids = new Set(calls.map((c) => c.id));
    if (ids.size !== calls.length)
      throw new InvalidOptionError(
        'bullmq executor: the calls of one map must have distinct batch ids (results are keyed by batch id)',
      );
    await this.#connect();
    const round = new TaskRound<I, O>(
      this.#context!,
      `${this.#start}.${this.#round++}`,
      { module: moduleUrl(task.module), name: task.name },
      calls,
    );
    // QueueEvents is listening before the jobs exist, so no event is missed while Redis stays up;
    // the round's poll covers reconnects.
    this.#rounds.set(round.jobPrefix, round as TaskRound<unknown, unknown>);
    try {
      return await round.run();
    } finally {
      this.#rounds.delete(round.jobPrefix);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await bounded(
      this.#connecting?.catch(() => undefined),
      this.#options.connectTimeoutMs + 1000,
    );
    const reachable = this.#redis === undefined || this.#redis.status === 'ready';
    const closed =
      reachable &&
      (await bounded(
        Promise.allSettled([this.#events?.close(), this.#queue?.close(), this.#redis?.quit()]),
        3000,
      ));
    if (!closed) {
      // Redis is away: drop the connections instead of waiting for it. The event reader is
      // closed, not only disconnected: its read loop retries every 5 s until it is closing, and
      // a disconnected reader kept the process alive for good after the run had failed.
      this.#redis?.disconnect();
      await bounded(Promise.allSettled([this.#events?.close(), this.#queue?.disconnect()]), 1000);
    }
  }

  /** Checks Redis once, then opens the queue and its event stream. */
  #connect(): Promise<void> {
    this.#connecting ??= (async () => {
      const { target, prefix, run, keepFailedSeconds, connectTimeoutMs } = this.#options;
      await probeRedis(target, connectTimeoutMs);
      const connection = target.bullmq;
      // With tracing on, each job's span is a child of the round's, and the worker's of the job's.
      const telemetry = await bullmqTelemetry();
      const queue = new Queue<TaskJobData>(kTaskQueue, {
        connection: { ...connection },
        prefix,
        ...(telemetry ? { telemetry } : {}),
        streams: { events: { maxLen: kEventStreamLength } },
      });
      const events = new QueueEvents(kTaskQueue, {
        connection: { ...connection, maxRetriesPerRequest: null },
        prefix,
      });
      this.#redis = payloadClient(target, `mlscale-driver-${run}`);
      const starts = startsKey(prefix, run);
      const [[, start]] = (await this.#redis
        .multi()
        .incr(starts)
        .expire(starts, keepFailedSeconds)
        .exec()) as [[unknown, number]];
      this.#start = start;
      for (const listener of this.#recorded.splice(0)) listener();
      const tracker = this.#tracker;
      tracker.countJobsUnder(`${run}.${start}.`);
      // Connection errors are retried by ioredis; the round's outage timer decides when to give up.
      queue.on('error', () => undefined);
      events.on('error', () => undefined);
      events.on('completed', ({ jobId, returnvalue }) => {
        tracker.count('completed', jobId);
        this.#dispatch('completed', jobId, returnvalue);
      });
      events.on('failed', ({ jobId, failedReason }) => {
        tracker.count('failed', jobId);
        this.#dispatch('failed', jobId, failedReason);
      });
      events.on('delayed', ({ jobId }) => tracker.count('retried', jobId));
      events.on(
        'waiting',
        ({ jobId, prev }) => prev === 'failed' && tracker.count('retried', jobId),
      );
      events.on('stalled', ({ jobId }) => tracker.count('stalled', jobId));
      this.#queue = queue;
      this.#events = events;
      this.#context = {
        queue,
        client: this.#redis,
        options: this.#options,
        activity: tracker,
        countWorkers: () => this.#countWorkers(),
      };
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
      await this.#countWorkers();
    })();
    return this.#connecting;
  }

  /** Asks Redis how many workers listen on the queue. */
  async #countWorkers(): Promise<void> {
    try {
      this.#tracker.setWorkers(await this.#queue!.getWorkersCount());
    } catch {
      // CLIENT LIST can be disabled on managed Redis: the count stays unknown.
    }
  }

  /** Passes a job's event to its round, if the round is still waiting. */
  #dispatch(kind: RoundEvent, jobId: string, detail?: unknown): void {
    this.#rounds.get(jobId.slice(0, jobId.lastIndexOf('.') + 1))?.onEvent(kind, jobId, detail);
  }
}
