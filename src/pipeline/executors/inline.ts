/**
 * The inline executor: runs every task in order on the calling thread. Sequential, O(n) in the
 * number of batches; the baseline the other executors are measured against.
 *
 * @module
 */
import { ExecutorClosedError, MlscaleError, TaskFailedError } from '../../errors.js';
import type { Executor, TaskCall, TaskRef } from './executor.js';
import { loadTask } from './task-loader.js';

/** Runs tasks one after another in this thread. */
export class InlineExecutor implements Executor {
  readonly kind = 'inline';
  readonly concurrency = 1;
  #closed = false;

  async map<I, O>(task: TaskRef, calls: readonly TaskCall<I>[]): Promise<O[]> {
    if (this.#closed) throw new ExecutorClosedError('inline executor is closed');
    const fn = await loadTask(task);
    const out: O[] = new Array(calls.length);
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i]!;
      try {
        out[i] = (await fn(call.input)) as O;
      } catch (err) {
        throw wrapTaskError(err, call.id);
      }
    }
    return out;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

/** Keeps coded errors as they are; wraps anything else with the batch id. */
export function wrapTaskError(err: unknown, batchId: number): MlscaleError {
  if (err instanceof MlscaleError) return err;
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new TaskFailedError(`batch ${batchId}: ${message}`, batchId, { cause: err });
}
