/**
 * Distributed (`--executor bullmq`) runs in progress for `mlscale dashboard --redis`, as the run
 * list shows them. The bullmq executor owns its Redis keys and lists the runs
 * (pipeline/executors/bullmq/runs.ts); this only shapes them for the page.
 *
 * @module
 */
import { BullmqRuns, type BullmqRunProgress } from '../pipeline/executors/bullmq/runs.js';
import type { RedisTarget } from '../pipeline/executors/bullmq/redis-connection.js';
import type { RunSummary } from './runs.js';

/** Reads the bullmq runs of one Redis and prefix. */
export class RedisRuns {
  readonly #runs: BullmqRuns;

  constructor(target: RedisTarget, prefix: string) {
    this.#runs = new BullmqRuns(target, prefix, 'mlscale-dashboard');
  }

  /** The runs in progress. */
  async list(): Promise<RunSummary[]> {
    return (await this.#runs.listRuns()).map(runSummary);
  }

  async close(): Promise<void> {
    await this.#runs.close();
  }
}

/** A run in progress as the list shows it: the epoch counted from 1 once a checkpoint exists. */
export function runSummary(p: BullmqRunProgress): RunSummary {
  const c = p.checkpoint;
  return {
    id: p.run,
    source: 'redis',
    status: 'running',
    executor: 'bullmq',
    workers: null,
    createdAt: null,
    rows: null,
    batches: c?.batches ?? null,
    epochs: null,
    totalMs: null,
    metric: null,
    progress: {
      done: c?.trained ?? 0,
      total: null,
      epoch: c ? c.epoch + 1 : 0,
      rounds: c?.rounds ?? 0,
    },
    workersConnected: p.workersConnected,
    retried: p.retried,
    failed: p.failed,
  };
}
