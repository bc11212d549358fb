/**
 * The first pass over the data: the statistics of every batch (map), merged in batch-id order
 * (reduce), each batch cached on the way.
 *
 * @module
 */
import { DataEmptyError } from '../errors.js';
import { batchCall, windows } from './batch-stream.js';
import type { DataPasses } from './data-passes.js';
import type { Executor, TaskRef } from './executors/executor.js';
import { mergeBatchStats, type BatchStats } from './stats.js';
import type { StageTimings, StatsInput, StatsOutput, TaskContext } from './tasks.js';
import type { Progress } from './training-result.js';

/** The first pass: statistics of every batch, merged in batch-id order, each batch cached on the way. */
export async function fitPass(
  executor: Executor,
  task: TaskRef,
  passes: DataPasses,
  context: TaskContext,
  window: number,
  maxCategories: number,
  addTimings: (t: StageTimings) => void,
  onProgress: (p: Progress) => void,
): Promise<BatchStats> {
  let stats: BatchStats | undefined;
  let rowsSeen = 0;
  for await (const items of windows(passes.first(), window)) {
    const out = await executor.map<StatsInput, StatsOutput>(
      task,
      items.map((item) =>
        batchCall({ context, ...item.input, ...(item.cache ? { cache: item.cache } : {}) }),
      ),
    );
    for (let i = 0; i < out.length; i++) {
      const o = out[i]!;
      await passes.stored(o.batchId, o.cached, items[i]!.estimate);
      addTimings(o.timings);
      stats = stats ? mergeBatchStats(stats, o.stats, maxCategories * 20) : o.stats;
      rowsSeen += o.stats.rows;
    }
    onProgress({ phase: 'fit', done: stats!.batches, rows: rowsSeen });
  }
  if (!stats) throw new DataEmptyError(`no data rows`);
  await passes.firstDone(stats.batches);
  return stats;
}
