/**
 * The threads executor: a worker-thread pool (Piscina) on this machine — vertical scaling.
 * Batches move to workers by transferring their ArrayBuffers; outputs come back the same way.
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { ExecutorClosedError, InvalidOptionError } from '../../../errors.js';
import { siblingModuleUrl } from '../../../util/module-url.js';
import type { Executor, TaskCall, TaskRef } from '../executor.js';
import { fromErrorPayload, type TaskEnvelope } from '../task-envelope.js';
import type { ThreadRequest } from './thread-worker.js';
import { moduleUrl } from '../task-loader.js';
import { raiseTaskThreadOldSpace } from './worker-heap.js';

/** Options of the threads executor. */
export interface ThreadsExecutorOptions {
  /** Worker threads in the pool. Default: the number of CPUs. */
  readonly workers?: number;
}

/** Runs tasks on a fixed-size pool of worker threads. */
export class ThreadsExecutor implements Executor {
  readonly kind = 'threads';
  readonly concurrency: number;
  readonly #pool: Piscina<ThreadRequest, unknown>;
  #closed = false;

  constructor(options: ThreadsExecutorOptions = {}) {
    const workers = options.workers ?? availableParallelism();
    if (!Number.isInteger(workers) || workers < 1) {
      throw new InvalidOptionError(
        `options.workers must be a positive integer, got ${String(workers)}`,
      );
    }
    this.concurrency = workers;
    raiseTaskThreadOldSpace();
    this.#pool = new Piscina<ThreadRequest, unknown>({
      filename: siblingModuleUrl(import.meta.url, './thread-worker'),
      minThreads: workers,
      maxThreads: workers,
      // One task at a time per thread: tasks are CPU-bound, and onnxruntime's run() blocks its thread.
      concurrentTasksPerWorker: 1,
      idleTimeout: 60_000,
    });
  }

  async map<I, O>(task: TaskRef, calls: readonly TaskCall<I>[]): Promise<O[]> {
    if (this.#closed) throw new ExecutorClosedError('threads executor is closed');
    const ref: TaskRef = { module: moduleUrl(task.module), name: task.name };
    // Several calls per message when there are many: about four messages per worker keeps the
    // load balanced while the per-message cost is shared. A map of a few calls each (a training
    // round) sends one message per worker: a trip to a thread and back costs ~0.45 ms of wall time
    // here (two wake-ups), and a worker given one call at a time would wait that long between
    // its calls within every round.
    const perMessage =
      calls.length <= this.concurrency * 4
        ? Math.ceil(calls.length / this.concurrency)
        : Math.floor(calls.length / (this.concurrency * 4));
    const runs: Promise<O[]>[] = [];
    for (let start = 0; start < calls.length; start += perMessage) {
      const chunk = calls.slice(start, start + perMessage);
      const transferList = chunk.flatMap((call) => (call.transfer ?? []) as ArrayBuffer[]);
      runs.push(
        this.#pool
          .run({ task: ref, inputs: chunk.map((call) => call.input) } satisfies ThreadRequest, {
            transferList,
          })
          .then((envelopes) =>
            (envelopes as TaskEnvelope<O>[]).map((e, i) => unwrap<O>(e, chunk[i]!.id)),
          ),
      );
    }
    // Settle all before reporting, so no call is left running unobserved after a failure.
    const settled = await Promise.allSettled(runs);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return settled.flatMap((s) => (s as PromiseFulfilledResult<O[]>).value);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.destroy();
  }
}

function unwrap<O>(envelope: TaskEnvelope<O>, batchId: number): O {
  if (envelope.ok) return envelope.value;
  throw fromErrorPayload(envelope.error, batchId);
}
