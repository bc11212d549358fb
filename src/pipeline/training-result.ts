/**
 * What a training run reports: its progress while it runs, and everything it learnt and measured.
 *
 * @module
 */
import type { Schema } from '../data/types.js';
import type { ModelFamily, ModelSpec, PreprocessingSpec } from '../model/spec.js';
import type { Metrics } from './evaluate.js';
import type { ModelComparison } from './model-choice.js';
import type { StageWall } from './stage-wall.js';
import type { StageTimings } from './tasks.js';
import type { WindowTiming } from './window-timings.js';

/** Phases of a run, in order. */
export type Phase = 'fit' | 'train' | 'evaluate';

/** A progress report, sent after every window of batches. */
export interface Progress {
  readonly phase: Phase;
  /** Batches done in this phase (training counts every epoch). */
  readonly done: number;
  /** Batches in this phase, once known (after the fit pass; for `epochs: 'auto'`, at most). */
  readonly total?: number;
  readonly rows: number;
  readonly epoch?: number;
  readonly round?: number;
  /** Mean training loss of the last round. */
  readonly loss?: number;
}

/**
 * Times of a run, in milliseconds: wall-clock time of each phase, time of each stage (task time
 * summed over tasks, and the run's wall time by stage: `stage-wall.ts`), and wall time of each epoch.
 */
export interface RunTimings {
  readonly phases: Record<Phase, number>;
  /**
   * Task time: the wall time each task spent in each stage, summed over every task (on any thread
   * or machine); tasks running at once add up, so this can exceed the run's wall time.
   */
  readonly stages: StageTimings;
  /** `stages` split by phase: the task time of the fit, train and evaluate phases' tasks. */
  readonly phaseStages: Record<Phase, StageTimings>;
  /** The run's wall time by stage (parallel task time divided by the parallelism): same meaning on every executor. */
  readonly stageWall: StageWall;
  readonly total: number;
  /** Wall time of each training epoch (its validation pass included). */
  readonly epochs: number[];
  /** Each window of batches (a fit or evaluate window, a training round) with its wall time. */
  readonly windows: WindowTiming[];
}

/** How training ran and why it stopped. */
export interface TrainingRun {
  /** `auto` (early stopping) or the fixed number asked for. */
  readonly asked: number | 'auto';
  /** Epochs run. */
  readonly epochs: number;
  /** The epoch whose weights the model has (1-based): the best one with early stopping. */
  readonly bestEpoch: number;
  readonly stopReason: string;
  /** Validation loss after each epoch (auto). */
  readonly validationLoss?: number[];
  /** Training rows set aside as the validation slice (auto). */
  readonly validationFraction?: number;
  /**
   * Epochs run to choose the number of epochs, for a small table whose model was then refit on
   * every training row for `epochs` epochs (auto).
   */
  readonly selectionEpochs?: number;
  /** `model: 'auto'` on a small table: the two families tried and how they compared on the validation slice (`model-choice.ts`). */
  readonly modelChoice?: ModelComparison & {
    readonly families: ModelFamily[];
    readonly chosen: ModelFamily;
  };
}

/** What the batch cache held. */
export interface CacheReport {
  readonly mode: 'auto' | 'disk' | 'none';
  /** Bytes of cached batches in memory and in all. */
  readonly memoryBytes: number;
  readonly totalBytes: number;
  /** The batches came from a kept cache folder of an earlier run. */
  readonly reused: boolean;
  /** Who holds the batches: this process, or each worker process its own (remote executors, batches by reference). */
  readonly where: 'driver' | 'workers';
  readonly dir?: string;
}

/** Everything a run learnt and measured. */
export interface TrainingResult {
  readonly schema: Schema;
  readonly spec: ModelSpec;
  readonly preprocessing: PreprocessingSpec;
  readonly params: Float32Array[];
  readonly metrics: Metrics;
  /** Named numbers from a user stages module's `aggregate`. */
  readonly customMetrics?: Record<string, number>;
  readonly data: {
    readonly source: string;
    readonly fingerprint: string;
    readonly batches: number;
    readonly rows: number;
    readonly trainRows: number;
    readonly heldOutRows: number;
    readonly skippedRows: number;
    /** Categorical columns: values seen in training rows (a lower bound past 20 × --max-categories) and kept. */
    readonly categories: {
      readonly name: string;
      readonly distinct: number;
      readonly kept: number;
    }[];
  };
  /** Mean training loss of each epoch. */
  readonly epochLoss: number[];
  readonly training: TrainingRun;
  readonly cache: CacheReport;
  readonly rounds: number;
  /** Training rounds that a resumed run found done (0 for a run that started from scratch). */
  readonly resumedRounds: number;
  readonly timings: RunTimings;
}
