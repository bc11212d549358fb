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

/**
 * A run in progress as the list shows it: the driver's progress report from the first (fit) phase
 * on, with the run's total once the fit pass has counted the batches; a run that has not reported
 * yet (waiting for workers) shows its checkpoint's, if any.
 */
export function runSummary(p: BullmqRunProgress): RunSummary {
  const c = p.checkpoint;
  const r = p.progress;
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
    progress: r
      ? {
          phase: r.phase,
          done: r.done,
          total: r.total ?? null,
          runDone: r.runDone,
          runTotal: r.runTotal ?? null,
          epoch: r.epoch ?? (c ? c.epoch + 1 : 0),
          rounds: r.rounds ?? c?.rounds ?? 0,
        }
      : {
          phase: null,
          done: c?.trained ?? 0,
          total: null,
          runDone: c?.trained ?? 0,
          runTotal: null,
          epoch: c ? c.epoch + 1 : 0,
          rounds: c?.rounds ?? 0,
        },
    workersConnected: p.workersConnected,
    retried: p.retried,
    failed: p.failed,
  };
}
