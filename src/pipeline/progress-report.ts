/**
 * Turns the pipeline's per-phase progress into run-wide reports for `CheckpointStore.reportProgress`
 * (the bullmq executor writes them to Redis for `mlscale dashboard --redis`): from the first (fit)
 * phase on, with the run's batches done and, once the fit pass has counted the batches, its total.
 *
 * @module
 */
import type { RunProgressReport } from './executors/executor.js';

/** The fields of the pipeline's `Progress` this needs (run-training.ts). */
interface PhaseProgress {
  readonly phase: 'fit' | 'train' | 'evaluate';
  readonly done: number;
  readonly total?: number;
  readonly epoch?: number;
  readonly round?: number;
}

/**
 * A progress callback that also publishes a run-wide report: the run's batches are the fit pass's
 * (one per batch), training's (every epoch) and the evaluation pass's (one per batch again).
 */
export function withRunProgress<P extends PhaseProgress>(
  onProgress: (p: P) => void,
  publish: ((report: RunProgressReport) => void) | undefined,
  now: () => number = Date.now,
): (p: P) => void {
  if (publish === undefined) return onProgress;
  let batches: number | undefined;
  let trained = 0;
  let trainTotal: number | undefined;
  return (p) => {
    onProgress(p);
    let runDone: number;
    if (p.phase === 'fit') {
      batches = p.done;
      runDone = p.done;
    } else if (p.phase === 'train') {
      trained = p.done;
      if (p.total !== undefined) trainTotal = p.total;
      runDone = (batches ?? 0) + p.done;
    } else {
      runDone = (batches ?? 0) + trained + p.done;
    }
    const runTotal =
      p.phase !== 'fit' && batches !== undefined && trainTotal !== undefined
        ? batches + trainTotal + batches
        : undefined;
    publish({
      phase: p.phase,
      done: p.done,
      ...(p.total !== undefined ? { total: p.total } : {}),
      runDone,
      ...(runTotal !== undefined ? { runTotal } : {}),
      ...(p.epoch !== undefined ? { epoch: p.epoch } : {}),
      ...(p.round !== undefined ? { rounds: p.round } : {}),
      at: now(),
    });
  };
}
