/**
 * The instance pool: N onnxruntime sessions of one model, each in its own worker thread
 * (instance.ts: one instance's life), with the queue of batches waiting for a free one, their
 * dispatch, resizing and closing. Options and defaults are in pool-options.ts.
 *
 * onnxruntime-node's `run()` does its native work synchronously on the calling thread, so a session
 * on the HTTP thread would stall every other request for the length of a batch. Each instance owns
 * a session (state), so these are plain `worker_threads`, one batch at a time each, not a task pool.
 *
 * - Tensors travel by transfer: input buffers move to the worker (a view into a larger or shared
 *   buffer is copied first), outputs move back. BYTES (string) tensors are cloned.
 * - A thread that dies is replaced; the batch it was running rejects with InstanceFailedError.
 * - `resize()` grows or shrinks the pool, or changes its intra-op threads, while it serves: new
 *   instances load before they take work, a retired one finishes its batch before its thread ends,
 *   so no batch is dropped (the autoscaler's vertical axis and a new thread split use it).
 * - `health()` is not ready while an instance is restarting or wedged (one batch running longer
 *   than `wedgedAfterMs`). With `runTimeoutMs`, a batch that runs too long rejects and its thread
 *   is terminated and replaced; note that termination takes effect only once onnxruntime's native
 *   `run()` returns to JavaScript, so the old thread may use a core until then.
 * - An instance that has not loaded the model within `loadTimeoutMs` counts as failed to load: the
 *   pool, or the restart, fails with that reason instead of waiting for ever. Its thread is
 *   terminated but not waited for, since a thread stuck in native code ends only when that returns.
 *
 * Why one file of more than 400 lines: it is one state machine, the pool's (queue, dispatch,
 * resize, close), whose steps share its private fields; each instance's own (start, load timeout,
 * death, restart backoff) is in instance.ts.
 *
 * @module
 */
import { InstanceFailedError, ModelLoadError, ShuttingDownError } from '../../errors.js';
import type { ModelSignature, Tensor } from '../types.js';
import { Instance, type Answer, type Job, type JobAnswer } from './instance.js';
import {
  kAnswerRunFailed,
  ownedTensor,
  transferListOf,
  type InferMessage,
  type InferredMessage,
  type ResultMessage,
  type RunMessage,
} from './messages.js';
import {
  checkPositiveInteger,
  fillInstancePoolOptions,
  kInstancePoolTestHooks,
  type FilledInstancePoolOptions,
  type InstancePoolOptions,
} from './pool-options.js';
import { toSignature, type RawMetadata } from './signature.js';

export { kInstancePoolTestHooks } from './pool-options.js';

/** `health()`: whether every instance can take work, and why not. */
export interface InstancePoolHealth {
  readonly ready: boolean;
  readonly reason?: string;
}

/** `stats()`: counters since the pool was created. */
export interface InstancePoolStats {
  readonly instances: number;
  /** Instances running a batch. */
  readonly busy: number;
  /** Instances free to start a batch. */
  readonly idle: number;
  /** Instances (re)loading the model after their thread died or was replaced. */
  readonly restarting: number;
  /** Batches started. */
  readonly runs: number;
  /** Batches that failed: onnxruntime errors, dead threads, run timeouts. */
  readonly failures: number;
  /** Threads replaced. */
  readonly restarts: number;
  /** onnxruntime intra-op threads of each instance. */
  readonly intraOpThreads: number;
  /** Instances removed by `resize()` that are finishing their batch. */
  readonly retiring: number;
}

/** What `resize()` takes: the instances to run and, optionally, new intra-op threads for each. */
export interface InstancePoolSize {
  readonly instances: number;
  readonly intraOpThreads?: number;
}

/** What `pool[kInstancePoolTestHooks]` offers. */
export interface InstancePoolTestHooks {
  /** Occupies an instance as a batch would: blocks its thread for `sleepMs`, then answers, or exits with `exitCode`. */
  stall(options: { sleepMs: number; exitCode?: number }): Promise<void>;
  /** Makes every thread started from now on block for `sleepMs` before it loads the model (0: no more). */
  stallLoads(sleepMs: number): void;
}

/** N sessions of one model in N worker threads; runs one batch per instance at a time. */
export class InstancePool {
  #options: FilledInstancePoolOptions;
  readonly #slots: Instance[] = [];
  /** Instances `resize()` is starting (loading) or ending (finishing a batch). */
  readonly #joining = new Set<Instance>();
  readonly #retiring = new Set<Instance>();
  /** Serialises `resize()` calls. */
  #resizing: Promise<unknown> = Promise.resolve();
  readonly #waiting: Job[] = [];
  readonly #idleListeners: (() => void)[] = [];
  #signature!: ModelSignature;
  #nextId = 1;
  #runs = 0;
  #failures = 0;
  #restarts = 0;
  #created = false;
  #closing = false;
  #closed?: Promise<void>;
  #drained?: () => void;

  /** What instances tell the pool. */
  readonly #events = {
    ready: (slot: Instance): void => this.#slotFreed(slot),
    answered: (slot: Instance, message: JobAnswer): void => this.#answered(slot, message),
    died: (slot: Instance, code: number): void => this.#died(slot, code),
  };

  private constructor(options: FilledInstancePoolOptions) {
    this.#options = options;
  }

  /**
   * Starts the instances and loads the model in each.
   * @returns the pool once every instance is ready.
   * @throws {ModelLoadError} (rejects) with onnxruntime's message when the model cannot be read or loaded.
   * @throws {TypeError | RangeError} (rejects) for invalid options.
   * @example const pool = await InstancePool.create({ modelPath: 'model.onnx', instances: 2 });
   */
  static async create(options: InstancePoolOptions): Promise<InstancePool> {
    const pool = new InstancePool(await fillInstancePoolOptions(options));
    const slots = Array.from({ length: pool.#options.instances }, (_, index) => pool.#spawn(index));
    pool.#slots.push(...slots);
    const started = await Promise.allSettled(slots.map((s) => s.started));
    const failed = started.find((s) => s.status === 'rejected');
    try {
      if (failed) {
        const message = (failed as PromiseRejectedResult).reason.message as string;
        throw new ModelLoadError(
          `${pool.#options.source}: onnxruntime cannot load the model: ${message}`,
        );
      }
      pool.#signature = toSignature(
        (started[0] as PromiseFulfilledResult<RawMetadata>).value,
        pool.#options.source,
      );
    } catch (err) {
      await pool.close();
      throw err;
    }
    pool.#created = true;
    return pool;
  }

  /** Instances that could start a batch now. */
  get idle(): number {
    // Read several times per request by the batcher: a loop, not a filtered copy.
    let idle = 0;
    for (const slot of this.#slots) if (slot.free) idle++;
    return idle;
  }

  /** Calls `listener` whenever an instance becomes free (a batch finished, or a replacement is ready). */
  onIdle(listener: () => void): void {
    this.#idleListeners.push(listener);
  }

  /**
   * Runs one batch on a free instance (or the first to become free).
   * Takes ownership of the inputs' buffers: a typed array that spans a whole ArrayBuffer is
   * transferred to the worker and left detached here; views are copied. Outputs are fresh.
   * @returns the outputs named in `outputs`, in that order.
   * @throws {InstanceFailedError} (rejects) when onnxruntime fails or the thread dies.
   * @throws {ShuttingDownError} (rejects) after `close()`.
   */
  run(inputs: readonly Tensor[], outputs: readonly string[]): Promise<Tensor[]> {
    if (this.#closing)
      return Promise.reject(new ShuttingDownError('the model instances are closing'));
    const owned = inputs.map(ownedTensor);
    const message: RunMessage = {
      type: 'run',
      id: this.#nextId++,
      inputs: owned,
      outputs: [...outputs],
    };
    return this.#submit(message, transferListOf(owned)).then((answer) => [
      ...(answer as ResultMessage).outputs,
    ]);
  }

  /**
   * Answers a batch of inference requests on a free instance (or the first to become free): the
   * instance decodes each request's body, runs the good ones merged (see `InferMessage`), and
   * encodes each response. The request bytes are transferred (left detached here).
   * @returns each request's answer, in order: a response body, or what was wrong with it.
   * @throws {InstanceFailedError} (rejects) when the thread dies or fails outside onnxruntime.
   * @throws {ShuttingDownError} (rejects) after `close()`.
   */
  infer(batch: Omit<InferMessage, 'type' | 'id'>): Promise<InferredMessage> {
    if (this.#closing)
      return Promise.reject(new ShuttingDownError('the model instances are closing'));
    const message: InferMessage = { ...batch, type: 'infer', id: this.#nextId++ };
    return this.#submit(message, [
      batch.requests.bytes.buffer as ArrayBuffer,
      batch.requests.ends.buffer as ArrayBuffer,
    ]) as Promise<InferredMessage>;
  }

  /** The model's inputs and outputs, with -1 for dynamic (symbolic or unknown) dimensions. */
  signature(): ModelSignature {
    return this.#signature;
  }

  /** Not ready while an instance restarts or has run one batch for longer than `wedgedAfterMs`. */
  health(): InstancePoolHealth {
    if (this.#closing) return { ready: false, reason: 'the model instances are closed' };
    const now = performance.now();
    const reasons: string[] = [];
    for (const slot of this.#slots) {
      if (slot.state === 'starting' || slot.state === 'down') {
        reasons.push(
          `instance ${slot.index} is restarting: ${slot.reason ?? 'its thread stopped'}`,
        );
      } else if (
        slot.jobs.length > 0 &&
        now - slot.jobs[0]!.startedAt > this.#options.wedgedAfterMs
      ) {
        const seconds = ((now - slot.jobs[0]!.startedAt) / 1000).toFixed(1);
        reasons.push(
          `instance ${slot.index} has been running one batch for ${seconds} s (wedged after ${this.#options.wedgedAfterMs} ms)`,
        );
      }
    }
    return reasons.length === 0 ? { ready: true } : { ready: false, reason: reasons.join('; ') };
  }

  /** Counters and the instances' current states. */
  stats(): InstancePoolStats {
    const count = (state: Instance['state']): number =>
      this.#slots.filter((s) => s.state === state).length;
    return {
      instances: this.#slots.length,
      busy: count('busy'),
      idle: count('idle'),
      restarting: count('starting') + count('down'),
      runs: this.#runs,
      failures: this.#failures,
      restarts: this.#restarts,
      intraOpThreads: this.#options.intraOpThreads,
      retiring: this.#retiring.size,
    };
  }

  /**
   * Changes the number of instances, and with `intraOpThreads` their threads, while the pool
   * serves; calls run one after another. New instances load the model before they take work (and
   * before `health()` counts them); an instance that goes finishes the batch it runs first, then its
   * thread ends. New threads replace every instance: the new ones load, then the old ones retire.
   * Resolves once the new instances serve; retired ones may still be finishing their batch.
   * @throws {TypeError} (rejects) for a count or thread number that is not a positive integer.
   * @throws {ModelLoadError} (rejects) when a new instance cannot load the model; the pool keeps
   *   serving with the instances it had (and, for new threads, the old threads).
   * @throws {ShuttingDownError} (rejects) after `close()`.
   * @example await pool.resize({ instances: 3 });
   */
  resize(size: InstancePoolSize): Promise<void> {
    try {
      if (size === null || typeof size !== 'object')
        throw new TypeError(`size must be an object, got ${String(size)}`);
      checkPositiveInteger('size.instances', size.instances);
      if (size.intraOpThreads !== undefined)
        checkPositiveInteger('size.intraOpThreads', size.intraOpThreads);
    } catch (err) {
      return Promise.reject(err);
    }
    const run = this.#resizing.then(() =>
      this.#resize(size.instances, size.intraOpThreads ?? this.#options.intraOpThreads),
    );
    this.#resizing = run.catch(() => undefined);
    return run;
  }

  /**
   * Stops taking batches, waits for the running ones, then ends every thread. Batches waiting for
   * an instance reject with ShuttingDownError. Safe to call more than once.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  /** Test hooks; see `InstancePoolTestHooks`. */
  get [kInstancePoolTestHooks](): InstancePoolTestHooks {
    return {
      stall: async ({ sleepMs, exitCode }) => {
        if (this.#closing) throw new ShuttingDownError('the model instances are closing');
        await this.#submit(
          {
            type: 'stall',
            id: this.#nextId++,
            sleepMs,
            ...(exitCode === undefined ? {} : { exitCode }),
          },
          [],
        );
      },
      stallLoads: (sleepMs) => {
        this.#options = { ...this.#options, loadStallMs: sleepMs };
      },
    };
  }

  async #resize(instances: number, intraOpThreads: number): Promise<void> {
    if (this.#closing) throw new ShuttingDownError('the model instances are closing');
    const replace = intraOpThreads !== this.#options.intraOpThreads;
    const have = this.#slots.length;
    if (!replace && instances === have) return;
    const previous = this.#options;
    if (replace) this.#options = { ...previous, intraOpThreads };
    const add = replace ? instances : Math.max(0, instances - have);
    const fresh: Instance[] = [];
    for (let i = 0; i < add; i++) {
      const slot = this.#spawn(this.#freeIndex(fresh), true);
      this.#joining.add(slot);
      fresh.push(slot);
    }
    const started = await Promise.allSettled(fresh.map((s) => s.started));
    for (const s of fresh) this.#joining.delete(s);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed || this.#closing) {
      // Nothing changes: the instances that did load end, the old ones keep serving.
      this.#options = previous;
      await Promise.all(fresh.map((s) => s.end()));
      if (this.#closing) throw new ShuttingDownError('the model instances are closing');
      const message = ((failed as PromiseRejectedResult).reason as Error).message;
      throw new ModelLoadError(
        `${previous.source}: a new instance cannot load the model: ${message}`,
      );
    }
    for (const s of fresh) {
      s.joining = false;
      this.#slots.push(s);
    }
    // The old ones go: all of them for new threads, else the surplus, idle ones first, so that as
    // few running batches as possible have to finish before their thread ends.
    const rank = (s: Instance): number => (s.state === 'idle' ? 0 : s.state === 'busy' ? 2 : 1);
    const old = replace
      ? this.#slots.filter((s) => !fresh.includes(s))
      : [...this.#slots]
          .sort((a, b) => rank(a) - rank(b) || b.index - a.index)
          .slice(0, Math.max(0, have - instances));
    for (const s of old) this.#retire(s);
    for (const s of fresh) this.#slotFreed(s);
  }

  /** The lowest instance number that no instance (serving, joining, retiring) uses. */
  #freeIndex(also: readonly Instance[]): number {
    const used = new Set(
      [...this.#slots, ...this.#joining, ...this.#retiring, ...also].map((s) => s.index),
    );
    let i = 0;
    while (used.has(i)) i++;
    return i;
  }

  /** Takes `slot` out of service; its thread ends once its batch (if any) is answered. */
  #retire(slot: Instance): void {
    slot.retiring = true;
    const at = this.#slots.indexOf(slot);
    if (at >= 0) this.#slots.splice(at, 1);
    this.#retiring.add(slot);
    clearTimeout(slot.retryTimer);
    const worker = slot.worker;
    void slot.exited.then(() => {
      if (slot.worker === worker) this.#retiring.delete(slot);
    });
    if (slot.state === 'idle') slot.endThread();
    else if (slot.state !== 'busy') void worker.terminate(); // loading after a death: nothing to finish
    // busy: #slotFreed ends the thread once the batch is answered.
  }

  #submit(message: Job['message'], transfer: ArrayBuffer[]): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      const job: Job = { message, transfer, resolve, reject, startedAt: 0 };
      const slot = this.#slots.find((s) => s.free);
      if (slot) this.#dispatch(slot, job);
      else this.#waiting.push(job);
    });
  }

  #dispatch(slot: Instance, job: Job): void {
    slot.state = 'busy';
    slot.jobs.push(job);
    slot.sent++;
    job.startedAt = performance.now();
    this.#runs++;
    if (this.#options.runTimeoutMs > 0)
      job.timer = setTimeout(() => this.#timedOut(slot, job), this.#options.runTimeoutMs);
    try {
      slot.post(job);
    } catch (err) {
      // A tensor that cannot be cloned (it should have been validated); the thread never saw it.
      slot.sent--;
      this.#finish(slot, job, () =>
        job.reject(
          new InstanceFailedError(
            `instance ${slot.index}: cannot send the batch: ${(err as Error).message}`,
            { cause: err },
          ),
        ),
      );
    }
  }

  /** Ends `job` on `slot`, frees the slot and hands it the next waiting job, or tells listeners. */
  #finish(slot: Instance, job: Job, settle: () => void): void {
    clearTimeout(job.timer);
    const at = slot.jobs.indexOf(job);
    if (at >= 0) {
      slot.jobs.splice(at, 1);
      if (slot.jobs.length === 0 && slot.state === 'busy') slot.state = 'idle';
    }
    settle();
    this.#slotFreed(slot);
  }

  #slotFreed(slot: Instance): void {
    if (slot.joining) return;
    if (slot.retiring) {
      if (slot.state !== 'idle') return;
      slot.endThread();
      if (this.#closing && this.#idleAll()) this.#drained?.();
      return;
    }
    if (!slot.free) return;
    const next = this.#waiting.shift();
    if (next) {
      this.#dispatch(slot, next);
      return;
    }
    if (this.#closing) {
      if (this.#idleAll()) this.#drained?.();
      return;
    }
    for (const listener of this.#idleListeners) {
      try {
        listener();
      } catch {
        // A listener's failure is its own; the pool must keep serving the others.
      }
    }
  }

  /** Whether no instance, serving or retiring, runs a batch. */
  #idleAll(): boolean {
    return (
      this.#slots.every((s) => s.jobs.length === 0) &&
      [...this.#retiring].every((s) => s.jobs.length === 0)
    );
  }

  /** A new instance's thread, started; `joining` for one that `resize()` adds. */
  #spawn(index: number, joining = false): Instance {
    return new Instance(index, this.#events).start(this.#options, joining);
  }

  #answered(slot: Instance, message: JobAnswer): void {
    const job = slot.jobs[0];
    if (!job || job.message.id !== message.id) return;
    if (message.type !== 'run-failed') {
      // A run of an infer batch that onnxruntime failed is answered per request; it counts here too.
      if (message.type === 'inferred' && message.kinds.includes(kAnswerRunFailed)) this.#failures++;
      this.#finish(slot, job, () => job.resolve(message));
    } else {
      this.#failures++;
      const err = new InstanceFailedError(
        `instance ${slot.index}: onnxruntime failed to run the batch: ${message.message}`,
      );
      this.#finish(slot, job, () => job.reject(err));
    }
  }

  /** The slot's thread ended without being asked to. */
  #died(slot: Instance, code: number): void {
    const jobs = slot.jobs;
    const why = `its thread exited with code ${code}${slot.threadError ? ` (${slot.threadError})` : ''}`;
    slot.state = 'down';
    slot.jobs = [];
    for (const job of jobs) {
      clearTimeout(job.timer);
      this.#failures++;
      job.reject(
        new InstanceFailedError(`instance ${slot.index} failed while running the batch: ${why}`),
      );
    }
    if (this.#closing) {
      if (this.#idleAll()) this.#drained?.();
      return;
    }
    this.#restart(slot, why);
  }

  #timedOut(slot: Instance, job: Job): void {
    if (!slot.jobs.includes(job)) return;
    this.#failures++;
    // The thread is replaced: a batch sent after this one would never be answered either.
    const jobs = slot.jobs;
    slot.jobs = [];
    for (const j of jobs) {
      clearTimeout(j.timer);
      j.reject(
        new InstanceFailedError(
          `instance ${slot.index} did not finish ${j === job ? 'the' : 'an earlier'} batch within runTimeoutMs (${this.#options.runTimeoutMs} ms); its thread is being replaced`,
        ),
      );
    }
    const old = slot.worker;
    this.#restart(slot, `a batch ran longer than runTimeoutMs (${this.#options.runTimeoutMs} ms)`);
    // terminate() stops JavaScript at once but waits for a native run() in progress to return.
    void old.terminate();
    if (this.#closing && this.#idleAll()) this.#drained?.();
  }

  #restart(slot: Instance, reason: string): void {
    // A retiring instance is not replaced: its thread was to end anyway.
    if (this.#closing || !this.#created || slot.retiring) return;
    this.#restarts++;
    slot.restart(reason, this.#options, {
      closing: () => this.#closing,
      retry: () => this.#restart(slot, reason),
    });
  }

  async #close(): Promise<void> {
    this.#closing = true;
    for (const job of this.#waiting.splice(0))
      job.reject(new ShuttingDownError('the model instances are closing'));
    if (!this.#idleAll()) {
      await new Promise<void>((resolve) => (this.#drained = resolve));
    }
    // Instances a resize was starting have no batch: they end at once. Retiring ones were told to
    // end when their batch was answered; terminate any that does not.
    for (const slot of this.#joining) void slot.worker.terminate();
    for (const slot of this.#retiring) {
      const timer = setTimeout(() => void slot.worker.terminate(), 2000);
      void slot.exited.then(() => clearTimeout(timer));
    }
    const others = Promise.all([...this.#joining, ...this.#retiring].map((s) => s.exited));
    await Promise.all(this.#slots.map((slot) => slot.close()));
    await others;
  }
}
