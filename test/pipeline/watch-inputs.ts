/** A test helper: an executor wrapper that counts how the batches it is handed travel. */
import type { BullmqExecutor } from '../../src/pipeline/executors/bullmq/bullmq-executor.js';
import type { Executor, TaskCall, TaskRef } from '../../src/pipeline/executors/executor.js';

/**
 * The executor, counting the batches it is handed as byte ranges a worker reads itself (`ranges`)
 * and as data that travels in the job (`rows`: rows, a range's bytes, or a cached batch).
 */
export function watchInputs(
  executor: BullmqExecutor,
  seen: { ranges: number; rows: number },
): Executor {
  return {
    kind: executor.kind,
    remote: executor.remote,
    concurrency: executor.concurrency,
    close: () => executor.close(),
    map: <I, O>(task: TaskRef, calls: readonly TaskCall<I>[]) => {
      for (const { input } of calls) {
        const i = input as {
          ref?: { span?: { bytes?: unknown } };
          batch?: unknown;
          cached?: unknown;
        };
        if (i.ref?.span !== undefined && i.ref.span.bytes === undefined) seen.ranges++;
        if (i.batch !== undefined || i.ref?.span?.bytes !== undefined || i.cached !== undefined)
          seen.rows++;
      }
      return executor.map<I, O>(task, calls);
    },
  };
}
