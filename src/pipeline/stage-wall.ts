/**
 * Per-stage times that mean the same on every executor. Each task times its own stages (wall time
 * inside the task); summed over tasks that is "task time", which grows with the number of workers
 * running at once (2 threads busy for 10 s are 20 s of task time) and, on an oversubscribed host,
 * with the waiting of each task for a core. Dividing each phase's task time by how many tasks ran
 * at once on average gives the share of the run's wall time each stage took: inline, threads and
 * bullmq then all answer "of the seconds this run lasted, how many went to preprocess, to train,
 * to evaluate", and the rest (the driver: averaging weights, scheduling, waiting for Redis) is
 * `other`.
 *
 * @module
 */
import type { StageTimings } from './tasks.js';

/** The run's wall time by stage, in milliseconds; `other` is wall time no task was running. */
export interface StageWall extends StageTimings {
  other: number;
}

/** The task time of one phase and that phase's wall time (ms). */
export interface PhaseTimes {
  readonly stages: StageTimings;
  readonly wallMs: number;
}

const kStages = ['preprocess', 'train', 'evaluate'] as const;

/** `after - before`, stage by stage: the task time of what ran between two snapshots. */
export function stageDelta(after: StageTimings, before: StageTimings): StageTimings {
  return {
    preprocess: after.preprocess - before.preprocess,
    train: after.train - before.train,
    evaluate: after.evaluate - before.evaluate,
    ...(after.read !== undefined ? { read: after.read - (before.read ?? 0) } : {}),
  };
}

/**
 * Splits each phase's wall time among its stages. Where tasks overlapped (task time above the
 * phase's wall time), each stage's task time is divided by the phase's mean parallelism, so the
 * stages add up to the phase's wall time; otherwise (inline) a stage's wall time is its task time
 * and the remainder is `other`.
 */
export function stageWallTimes(phases: readonly PhaseTimes[]): StageWall {
  const wall: StageWall = { preprocess: 0, train: 0, evaluate: 0, other: 0 };
  for (const { stages, wallMs } of phases) {
    const busy = kStages.reduce((sum, k) => sum + Math.max(0, stages[k]), 0);
    const parallelism = wallMs > 0 ? Math.max(1, busy / wallMs) : 1;
    let inStages = 0;
    for (const k of kStages) {
      const share = Math.max(0, stages[k]) / parallelism;
      wall[k] += share;
      inStages += share;
    }
    wall.other += Math.max(0, wallMs - inStages);
  }
  return wall;
}
