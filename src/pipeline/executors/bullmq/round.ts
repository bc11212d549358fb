/**
 * One round of the `bullmq` executor: the jobs of one `map` call, from their submission to the
 * outputs in call order.
 *
 * Each batch is one job with a deterministic id (`run.start.round.batch`), added in bulk, so a
 * batch is queued once. The round learns of completions from the queue's events (the executor
 * passes on the ones of this round; a small output rides in the event itself) and, as a fallback
 * for missed events, by polling Redis; the first output of a batch counts, so a batch that runs
 * twice counts once. Redis errors do not fail the round at once: ioredis reconnects, and the poll
 * resubmits what a restarted Redis lost. Only an outage longer than the limit fails the run.
 *
 * @module
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { RedisUnavailableError, TaskFailedError } from '../../../errors.js';
import { bounded } from '../../../util/bounded.js';
import { version } from '../../../version.js';
import type { ActivityTracker } from './activity.js';
import type { ResolvedBullmqOptions } from './options.js';
import {
  decodePayload,
  encodePayload,
  kInlinePayloadBytes,
  kPayloadTtlSeconds,
  parseFailure,
  payloadKeys,
  returnedBytes,
  splitShared,
  taskJobId,
  type TaskJobData,
} from './protocol.js';
import type { TaskCall, TaskRef } from '../executor.js';
import { fromErrorPayload } from '../task-envelope.js';

/** What a round needs from its executor. */
export interface RoundContext {
  readonly queue: Queue<TaskJobData>;
  /** The payload client (binary-safe). */
  readonly client: Redis;
  readonly options: Readonly<ResolvedBullmqOptions>;
  readonly activity: ActivityTracker;
  /** Asks Redis how many workers listen (at the poll's slower pace). */
  readonly countWorkers: () => Promise<void>;
}

/** A queue event of one of the round's jobs. */
export type RoundEvent = 'completed' | 'failed';

/** The jobs of one `map` call. */
export class TaskRound<I, O> {
  /** `<run>.<round>.`: the start of this round's job ids. */
  readonly jobPrefix: string;
  readonly #ctx: RoundContext;
  readonly #round: string;
  readonly #task: TaskRef;
  readonly #calls: readonly TaskCall<I>[];
  readonly #keys: ReturnType<typeof payloadKeys>;
  readonly #out: O[];
  /** jobId → index in the calls, for the jobs whose output has not arrived. */
  readonly #pending: Map<string, number>;
  /** What each call does not share with the others, and the packed shared part (see splitShared). */
  readonly #own: unknown[];
  readonly #sharedBytes: Buffer | undefined;
  #settled = false;
  #finish!: (err?: unknown) => void;
  /** Since when Redis commands fail; undefined while they succeed. */
  #outageSince: number | undefined;

  /**
   * @param round - `<driver start>.<map call>`.
   * @param task - The task, its module already a URL.
   */
  constructor(ctx: RoundContext, round: string, task: TaskRef, calls: readonly TaskCall<I>[]) {
    this.#ctx = ctx;
    this.#round = round;
    this.#task = task;
    this.#calls = calls;
    const { run, prefix } = ctx.options;
    this.jobPrefix = `${run}.${round}.`;
    this.#keys = payloadKeys(prefix, run, round);
    this.#out = new Array(calls.length);
    this.#pending = new Map(calls.map((c, i) => [taskJobId(run, round, c.id), i]));
    const { shared, own } = splitShared(calls.map((c) => c.input));
    this.#own = own;
    this.#sharedBytes = shared === undefined ? undefined : encodePayload(shared);
  }

  /** Submits the jobs and resolves with the outputs in call order; cleans up either way. */
  async run(): Promise<O[]> {
    const done = new Promise<void>((resolve, reject) => {
      this.#finish = (err) => (err === undefined ? resolve() : reject(err));
    });
    const poll = this.#startPolling();
    try {
      try {
        await this.#submit([...this.#pending.keys()]);
      } catch (err) {
        this.#redisFailed(err);
      }
      await done;
      return this.#out;
    } finally {
      clearInterval(poll);
      // Best effort: with Redis away, the payloads expire on their own.
      await bounded(this.#cleanup(), 2000);
    }
  }

  /** Takes a queue event of one of this round's jobs (the executor routes them by job id). */
  onEvent(kind: RoundEvent, jobId: string, detail?: unknown): void {
    if (!this.#pending.has(jobId)) return;
    if (kind === 'failed') return void this.#fail(jobId, detail as string | undefined);
    this.#ctx.activity.ranOn(detail);
    const bytes = returnedBytes(detail);
    if (bytes) this.#accept(jobId, bytes);
    else this.#collect(jobId);
  }

  #settle(err?: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#finish(err);
  }

  #redisOk(): void {
    this.#outageSince = undefined;
  }

  #redisFailed(err: unknown): void {
    this.#outageSince ??= Date.now();
    const { outageTimeoutMs, target } = this.#ctx.options;
    if (Date.now() - this.#outageSince > outageTimeoutMs) {
      this.#settle(
        new RedisUnavailableError(
          `lost Redis at ${target.display} for more than ${outageTimeoutMs} ms mid-run: ${(err as Error).message}`,
          { cause: err },
        ),
      );
    }
  }

  /** Takes a job's packed output; the first one counts, later copies are ignored. */
  #accept(jobId: string, bytes: Buffer): void {
    const index = this.#pending.get(jobId);
    if (index === undefined || this.#settled) return;
    this.#out[index] = decodePayload<O>(bytes);
    this.#pending.delete(jobId);
    if (this.#pending.size === 0) this.#settle();
  }

  /** Reads the outputs of `jobIds` that are in the output hash. */
  async #read(jobIds: string[]): Promise<void> {
    if (jobIds.length === 0) return;
    const values = await this.#ctx.client.hmgetBuffer(
      this.#keys.outputs,
      ...jobIds.map((id) => String(this.#calls[this.#pending.get(id)!]!.id)),
    );
    values.forEach((bytes: Buffer | null, k: number) => {
      if (bytes !== null) this.#accept(jobIds[k]!, bytes);
    });
  }

  /** Stores the inputs and adds the jobs of `jobIds`; an existing job id is left as it is. */
  async #submit(jobIds: string[]): Promise<void> {
    if (jobIds.length === 0) return;
    const { client, queue, options } = this.#ctx;
    const indexes = jobIds.map((id) => this.#pending.get(id)!);
    const fields: (string | Buffer)[] = [];
    const inline = new Map<number, string>();
    for (const i of indexes) {
      const bytes = encodePayload(this.#own[i]);
      if (bytes.length <= kInlinePayloadBytes) inline.set(i, bytes.toString('base64'));
      else fields.push(String(this.#calls[i]!.id), bytes);
    }
    const sharedBytes = this.#sharedBytes;
    if (fields.length > 0 || sharedBytes !== undefined) {
      const multi = client.multi();
      if (sharedBytes !== undefined)
        multi.set(this.#keys.shared, sharedBytes, 'EX', kPayloadTtlSeconds);
      if (fields.length > 0)
        multi.hset(this.#keys.inputs, ...fields).expire(this.#keys.inputs, kPayloadTtlSeconds);
      await multi.exec();
    }
    // One options object for all the jobs: BullMQ copies what it keeps.
    const opts = {
      attempts: options.attempts,
      backoff: { type: 'exponential', delay: options.backoffMs },
      // Removed at once: the output reached the driver in the completed event (or sits in the
      // output hash). Keeping completed jobs cost three more Redis commands a job (the completed
      // set and its age and count trimming). A job whose event was lost is found gone by the poll
      // and run again (outputs are keyed by batch: the first one counts).
      removeOnComplete: true,
      removeOnFail: { age: options.keepFailedSeconds },
    } as const;
    const { run } = options;
    const shared = sharedBytes === undefined ? undefined : true;
    await queue.addBulk(
      indexes.map((i, k) => {
        const batch = this.#calls[i]!.id;
        return {
          name: `batch ${batch}`,
          data: {
            version,
            run,
            round: this.#round,
            batch,
            module: this.#task.module,
            name: this.#task.name,
            input: inline.get(i),
            shared,
          } satisfies TaskJobData,
          opts: { ...opts, jobId: jobIds[k]! },
        };
      }),
    );
  }

  // An event asks for its own job's output; the poll asks for all pending ones. Overlapping
  // requests are coalesced.
  #collecting: Promise<void> | undefined;
  #again = false;
  #wantAll = false;
  readonly #wanted = new Set<string>();

  #collect(jobId?: string): void {
    if (jobId === undefined) this.#wantAll = true;
    else this.#wanted.add(jobId);
    if (this.#collecting) {
      this.#again = true;
      return;
    }
    this.#collecting = (async () => {
      do {
        this.#again = false;
        if (this.#settled || this.#pending.size === 0) return;
        const jobIds = this.#wantAll
          ? [...this.#pending.keys()]
          : [...this.#wanted].filter((id) => this.#pending.has(id));
        this.#wantAll = false;
        this.#wanted.clear();
        await this.#read(jobIds);
        this.#redisOk();
      } while (this.#again);
    })()
      .catch((err: unknown) => {
        this.#wantAll = true;
        this.#redisFailed(err);
      })
      .finally(() => (this.#collecting = undefined));
  }

  /** Fails the round with the batch's error, rebuilt from the job's failure reason. */
  async #fail(jobId: string, reasonFromEvent?: string): Promise<void> {
    const index = this.#pending.get(jobId);
    if (index === undefined || this.#settled) return;
    const batchId = this.#calls[index]!.id;
    let reason = reasonFromEvent ?? 'failed';
    let attempts: number | undefined;
    try {
      const job = await this.#ctx.queue.getJob(jobId);
      if (job) {
        reason = job.failedReason || reason;
        attempts = job.attemptsMade;
      }
    } catch {
      // The event's reason is enough.
    }
    const { name, message } = parseFailure(reason);
    const tried =
      attempts === undefined ? '' : `after ${attempts} attempt${attempts === 1 ? '' : 's'}`;
    const err = fromErrorPayload({ name, message }, batchId);
    // A TaskFailedError's message names the batch already; a coded error's does not.
    err.message +=
      err instanceof TaskFailedError
        ? tried
          ? ` (${tried})`
          : ''
        : ` (batch ${batchId}${tried ? `, ${tried}` : ''})`;
    this.#settle(err);
  }

  #checking = false;
  /** Jobs found missing by the previous check. */
  readonly #missingBefore = new Set<string>();

  /**
   * The fallback for what events cannot tell: asks Redis for the state of the pending jobs; fails
   * the round on a failed one whose event was missed, and resubmits jobs that no longer exist
   * without an output (Redis restarted without persistence, or the first submit failed).
   */
  async #check(): Promise<void> {
    if (this.#checking || this.#settled) return;
    this.#checking = true;
    const { queue, activity } = this.#ctx;
    try {
      const jobIds = [...this.#pending.keys()];
      const states = await Promise.all(jobIds.map((id) => queue.getJobState(id)));
      const failed = jobIds.find((_, k) => states[k] === 'failed');
      if (failed !== undefined) return void (await this.#fail(failed));
      const completed = jobIds.filter((_, k) => states[k] === 'completed');
      const jobs = await Promise.all(completed.map((id) => queue.getJob(id)));
      jobs.forEach((job, k) => {
        activity.ranOn(job?.returnvalue);
        const bytes = returnedBytes(job?.returnvalue);
        if (bytes) this.#accept(completed[k]!, bytes);
      });
      // A job that does not exist either never got in (Redis restarted, the submit failed) or
      // completed and was removed while its event is still on the way: it is resubmitted only
      // when it is still missing at the next check.
      const missing = jobIds.filter((_, k) => states[k] === 'unknown');
      const lost = missing.filter((id) => this.#missingBefore.has(id));
      this.#missingBefore.clear();
      for (const id of missing) this.#missingBefore.add(id);
      await this.#read(lost);
      await this.#submit(lost.filter((id) => this.#pending.has(id)));
      this.#redisOk();
    } catch (err) {
      this.#redisFailed(err);
    } finally {
      this.#checking = false;
    }
  }

  /**
   * Every `pollMs`: collects the outputs in the hash, and every fifth time (or during an outage)
   * checks the jobs' states and the worker count. The watchdog does not wait on any command (one
   * may hang while Redis is away): the payload connection not being ready for longer than the
   * limit fails the run.
   */
  #startPolling(): NodeJS.Timeout {
    const { client, options } = this.#ctx;
    let ticks = 0;
    let downSince: number | undefined;
    return setInterval(() => {
      if (client.status === 'ready') downSince = undefined;
      else {
        downSince ??= Date.now();
        if (Date.now() - downSince > options.outageTimeoutMs) {
          this.#settle(
            new RedisUnavailableError(
              `lost Redis at ${options.target.display} for more than ${options.outageTimeoutMs} ms mid-run (connection ${client.status})`,
            ),
          );
        }
      }
      this.#collect();
      if (++ticks % 5 === 0 || this.#outageSince !== undefined) {
        void this.#check();
        void this.#ctx.countWorkers();
      }
    }, options.pollMs);
  }

  /** Deletes the round's payloads; after a failure, takes its other jobs off the queue too. */
  async #cleanup(): Promise<void> {
    const { queue, client } = this.#ctx;
    if (this.#pending.size > 0) {
      // Running ones finish and are ignored.
      await Promise.allSettled([...this.#pending.keys()].map((id) => queue.remove(id)));
    }
    await client
      .del(this.#keys.inputs, this.#keys.outputs, this.#keys.shared)
      .catch(() => undefined);
  }
}
