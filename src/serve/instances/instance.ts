/**
 * One model instance's life: its worker thread (an onnxruntime session of the model), started,
 * loading (within `loadTimeoutMs`), serving batches one at a time, dying, restarted after a
 * backoff, and ended. The pool (instance-pool.ts) decides what it runs and when it goes; this
 * file owns what happens to the thread.
 *
 * @module
 */
import { Worker } from 'node:worker_threads';
import { siblingModuleUrl } from '../../util/module-url.js';
import type {
  FromWorker,
  InferMessage,
  InferredMessage,
  InstanceWorkerData,
  ResultMessage,
  RunMessage,
  StallMessage,
  ToWorker,
} from './messages.js';
import type { RawMetadata } from './signature.js';

/** What a job's worker answers when it succeeds. */
export type Answer = ResultMessage | InferredMessage;

/** A batch sent, or to be sent, to an instance. */
export interface Job {
  readonly message: RunMessage | InferMessage | StallMessage;
  readonly transfer: ArrayBuffer[];
  readonly resolve: (answer: Answer) => void;
  readonly reject: (err: Error) => void;
  startedAt: number;
  timer?: NodeJS.Timeout;
}

/** What a thread is started with. */
export interface InstanceThreadSettings {
  readonly modelBytes: Uint8Array;
  readonly intraOpThreads: number;
  readonly allowSpinning: boolean;
  readonly loadTimeoutMs: number;
  /** Test hook: the thread blocks this long before it loads, as a hung load would. */
  readonly loadStallMs?: number;
}

/** An answer of the thread to a job. */
export type JobAnswer = Extract<FromWorker, { type: 'result' | 'inferred' | 'run-failed' }>;

/** What the instance tells its pool. */
export interface InstanceEvents {
  /** The thread loaded the model and takes work. */
  ready(instance: Instance): void;
  /** The thread answered a job. */
  answered(instance: Instance, message: JobAnswer): void;
  /** The thread ended without being asked to, after it had loaded. */
  died(instance: Instance, code: number): void;
}

/** Restart delays after failed reloads: 1 s, 2 s, ... 30 s, so a model that cannot load does not spin threads. */
export function restartBackoffMs(failedStarts: number): number {
  return Math.min(30_000, 1000 * 2 ** (failedStarts - 1));
}

/** One instance: its current thread and what it runs. */
export class Instance {
  readonly index: number;
  worker!: Worker;
  state: 'starting' | 'idle' | 'busy' | 'down' = 'starting';
  /** Jobs sent to the thread and not yet answered here, oldest first (answers come in order). */
  jobs: Job[] = [];
  /** Jobs sent to the current thread. */
  sent = 0;
  /**
   * Jobs the current thread has finished, counted by the thread itself in shared memory. When it
   * equals `sent` the thread is free, even while its last answer still waits for this thread's
   * event loop: under load that wait is as long as a light batch, and the instance would idle it.
   */
  done!: Int32Array;
  /** Why the instance is restarting, for `health()`. */
  reason?: string;
  /** onnxruntime's message when the session failed to load. */
  loadError?: string;
  /** The last uncaught error of the thread. */
  threadError?: string;
  /** Settles when the current thread is ready or has failed to start. */
  started!: Promise<RawMetadata>;
  exited!: Promise<number>;
  failedStarts = 0;
  retryTimer?: NodeJS.Timeout;
  /** Started by `resize()` and not yet handed work: invisible to `health()` and dispatch until it joins. */
  joining = false;
  /** Removed by `resize()`: takes no new batch; its thread ends once the running one is answered. */
  retiring = false;
  readonly #events: InstanceEvents;

  constructor(index: number, events: InstanceEvents) {
    this.index = index;
    this.#events = events;
  }

  /** Whether it can take a job now: its thread has finished every job it was sent. */
  get free(): boolean {
    return (
      this.state === 'idle' || (this.state === 'busy' && Atomics.load(this.done, 0) === this.sent)
    );
  }

  /** Starts a new thread (the first, or a replacement) that loads the model. */
  start(settings: InstanceThreadSettings, joining = false): this {
    const done = new Int32Array(new SharedArrayBuffer(4));
    const data: InstanceWorkerData = {
      instance: this.index,
      modelBytes: settings.modelBytes,
      intraOpThreads: settings.intraOpThreads,
      allowSpinning: settings.allowSpinning,
      done: done.buffer as SharedArrayBuffer,
      ...(settings.loadStallMs ? { loadStallMs: settings.loadStallMs } : {}),
    };
    const worker = new Worker(new URL(siblingModuleUrl(import.meta.url, './instance-worker')), {
      workerData: data,
    });
    this.worker = worker;
    this.state = 'starting';
    this.jobs = [];
    this.sent = 0;
    this.done = done;
    if (joining) this.joining = true;
    this.loadError = undefined;
    this.threadError = undefined;
    // Set when the load times out: from then on the thread counts as gone, whatever it does later.
    let abandon: (() => void) | undefined;
    let abandoned = false;
    this.exited = new Promise((resolve) => {
      worker.once('exit', resolve);
      abandon = () => resolve(-1);
    });
    this.started = new Promise<RawMetadata>((resolve, reject) => {
      const loadTimeoutMs = settings.loadTimeoutMs;
      const loadTimer = setTimeout(() => {
        if (this.worker !== worker || this.state !== 'starting') return;
        abandoned = true;
        this.state = 'down';
        reject(
          new Error(
            `it was still loading after ${loadTimeoutMs} ms (loadTimeoutMs); the instance's thread was stopped`,
          ),
        );
        // terminate() waits for native code (a hung session load) to return: do not wait for it.
        void worker.terminate();
        abandon!();
      }, loadTimeoutMs);
      void this.exited.then(() => clearTimeout(loadTimer));
      worker.on('message', (message: FromWorker) => {
        if (this.worker !== worker || abandoned) return;
        switch (message.type) {
          case 'ready':
            clearTimeout(loadTimer);
            this.state = 'idle';
            this.reason = undefined;
            this.failedStarts = 0;
            resolve({ inputs: message.inputs, outputs: message.outputs });
            this.#events.ready(this);
            break;
          case 'load-failed':
            this.loadError = message.message;
            break;
          case 'result':
          case 'inferred':
          case 'run-failed':
            this.#events.answered(this, message);
            break;
        }
      });
      worker.on('error', (err) => {
        if (this.worker === worker) this.threadError = err.message;
      });
      worker.once('exit', (code) => {
        if (this.worker !== worker || abandoned) return;
        if (this.state === 'starting') {
          this.state = 'down';
          reject(
            new Error(
              this.loadError ??
                this.threadError ??
                `the thread exited with code ${code} while loading`,
            ),
          );
          return;
        }
        this.#events.died(this, code);
      });
    });
    // Restarts handle a failed start themselves; this keeps it from counting as unhandled.
    this.started.catch(() => undefined);
    return this;
  }

  /**
   * Replaces the thread after `reason`; when the new one fails to load, tries again after the
   * backoff through `again.retry` (the pool decides whether a restart still applies), unless the
   * pool is closing by then.
   */
  restart(
    reason: string,
    settings: InstanceThreadSettings,
    again: { readonly closing: () => boolean; readonly retry: () => void },
  ): void {
    this.reason = reason;
    this.start(settings);
    this.started.catch((err: Error) => {
      if (again.closing()) return;
      this.failedStarts++;
      this.reason = `${reason}; reloading failed: ${err.message}`;
      this.retryTimer = setTimeout(again.retry, restartBackoffMs(this.failedStarts));
      this.retryTimer.unref();
    });
  }

  /** Sends a job to the thread. */
  post(job: Job): void {
    this.worker.postMessage(job.message satisfies ToWorker, job.transfer);
  }

  /** Asks an idle thread to release its session and end; terminates it if it does not. */
  endThread(): void {
    this.state = 'down';
    const worker = this.worker;
    try {
      worker.postMessage({ type: 'close' } satisfies ToWorker);
    } catch {
      void worker.terminate();
      return;
    }
    const timer = setTimeout(() => void worker.terminate(), 2000);
    void this.exited.then(() => clearTimeout(timer));
  }

  /** Ends an instance that `resize()` started and will not use; resolves once its thread is gone. */
  async end(): Promise<void> {
    this.retiring = true;
    if (this.state === 'idle') this.endThread();
    else void this.worker.terminate();
    await this.exited;
  }

  /** Ends the thread for the pool's close: an idle one releases its session, any other is terminated. */
  async close(): Promise<void> {
    clearTimeout(this.retryTimer);
    if (this.state === 'idle') {
      this.worker.postMessage({ type: 'close' } satisfies ToWorker);
      // The worker releases its session and ends; terminate only if it does not.
      const timer = setTimeout(() => void this.worker.terminate(), 2000);
      await this.exited;
      clearTimeout(timer);
    } else {
      // Through `exited`, which an abandoned thread (a load that timed out) has already settled.
      void this.worker.terminate();
      await this.exited;
    }
    this.state = 'down';
  }
}
