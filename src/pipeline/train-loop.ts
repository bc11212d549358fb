/**
 * The training phase: epochs of synchronous data-parallel rounds. Each round hands `syncEvery`
 * batches the same weights and averages what they return, weighted by rows, in batch-id order.
 * With `epochs: 'auto'`, each epoch ends with a pass over the validation slice, and
 * `early-stopping.ts` decides whether to go on, halve the learning rate or stop; the best epoch's
 * weights are the result, or, for a small table, the weights of a second run (`refit`) over every
 * training row for that many epochs.
 *
 * The driver saves its state after every round (on executors with durable storage), so a
 * restarted driver continues from the last round done.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import { TrainingDivergedError } from '../errors.js';
import {
  createOptimizerState,
  type OptimizerConfig,
  type OptimizerState,
} from '../model/optimizers.js';
import { initParameters, parameterShapes } from '../model/parameters.js';
import type { ModelFamily, ModelSpec, PreprocessingSpec } from '../model/spec.js';
import { weightedAverage } from './average.js';
import { batchCall, inputId, windows, type BatchInput } from './batch-stream.js';
import { autoStoppingPolicy, EarlyStopping } from './early-stopping.js';
import { computeMetrics, emptyEvalStats, mergeEvalStats } from './evaluate.js';
import type { Executor, TaskRef } from './executors/executor.js';
import type { TrainingOptions } from './options.js';
import type { BatchStats } from './stats.js';
import type {
  EvaluateInput,
  EvaluateOutput,
  StageTimings,
  TaskContext,
  TrainInput,
  TrainOutput,
} from './tasks.js';

/** A run's state after a training round: what a restarted driver needs to continue. */
export interface TrainingCheckpoint {
  /** Hash of the data and every setting that changes the result: a resume must match. */
  readonly fingerprint: string;
  readonly stats: BatchStats;
  readonly preprocessing: PreprocessingSpec;
  /** The epoch in progress and the training windows (rounds) done in it. */
  readonly epoch: number;
  readonly windows: number;
  readonly params: Float32Array[];
  readonly optimizerState: OptimizerState;
  readonly epochLoss: number[];
  readonly lossSum: number;
  readonly lossRows: number;
  readonly rows: number;
  readonly rounds: number;
  readonly trained: number;
  /** `epochs: 'auto'`: the validation losses so far, the learning rate now and the best weights. */
  readonly validationLoss?: number[];
  readonly learningRate?: number;
  readonly learningRates?: number[];
  readonly best?: { readonly params: Float32Array[] };
  /** The refit's plan, when the checkpoint is of the refit (the selection's result rides along). */
  readonly refit?: RefitPlan & { readonly selection: TrainLoopResult };
  /** `model: 'auto'`: the model family this checkpoint trains, and the candidates done before it. */
  readonly family?: ModelFamily;
  readonly candidates?: Candidate[];
}

/** A model family tried on the validation slice, with how it did. */
export interface Candidate {
  readonly family: ModelFamily;
  readonly selection: TrainLoopResult;
}

/** A fixed run of epochs with a given learning rate per epoch: a small table's refit. */
export interface RefitPlan {
  readonly epochs: number;
  readonly learningRates: readonly number[];
}

/** How training went. */
export interface TrainLoopResult {
  readonly params: Float32Array[];
  /** Mean training loss of each epoch. */
  readonly epochLoss: number[];
  /** Validation loss after each epoch (`epochs: 'auto'`). */
  readonly validationLoss?: number[];
  readonly rounds: number;
  /** Wall time of each epoch, ms (validation pass included). */
  readonly epochMs: number[];
  /** Epochs run, and the one whose weights were kept (1-based). */
  readonly epochs: number;
  readonly bestEpoch: number;
  /** The learning rate of each epoch run. */
  readonly learningRates: number[];
  /** The best validation loss (auto; the training loss when the slice is empty). */
  readonly bestValidationLoss?: number;
  /** Why training stopped, in words. */
  readonly stopReason: string;
}

/** What the loop works with. */
export interface TrainLoopArgs {
  readonly executor: Executor;
  readonly options: Readonly<TrainingOptions>;
  readonly context: TaskContext;
  readonly spec: ModelSpec;
  readonly preprocessing: PreprocessingSpec;
  readonly stats: BatchStats;
  /** The inputs of one pass, in batch-id order (a fresh pass per call). */
  readonly pass: () => AsyncIterable<BatchInput>;
  readonly tasks: { readonly train: TaskRef; readonly validate: TaskRef };
  readonly fingerprint: string;
  readonly resumed?: TrainingCheckpoint;
  /** Run exactly these epochs, with these learning rates, and no validation (the refit). */
  readonly refit?: RefitPlan & { readonly selection: TrainLoopResult };
  /** Saved with every checkpoint (which candidate of `model: 'auto'` this is). */
  readonly checkpointExtra?: Pick<TrainingCheckpoint, 'family' | 'candidates'>;
  readonly addTimings: (t: StageTimings) => void;
  readonly onRound: (p: {
    done: number;
    total: number;
    rows: number;
    epoch: number;
    round: number;
    loss?: number;
  }) => void;
}

/** Runs the training phase. */
export async function trainLoop(a: TrainLoopArgs): Promise<TrainLoopResult> {
  const { executor, options, spec, stats, resumed, refit } = a;
  const auto = options.epochs === 'auto' && refit === undefined;
  const stopping = auto ? new EarlyStopping(autoStoppingPolicy(stats.trainRows)) : undefined;
  const maxEpochs = refit?.epochs ?? stopping?.policy.maxEpochs ?? (options.epochs as number);
  let learningRate = resumed?.learningRate ?? options.learningRate;
  const learningRates: number[] = resumed?.learningRates ? [...resumed.learningRates] : [];
  const optimizer = (): OptimizerConfig => ({
    kind: options.optimizer,
    learningRate,
    momentum: options.momentum,
    l2: options.l2,
  });
  let params = resumed?.params ?? initParameters(spec, options.seed);
  let optimizerState: OptimizerState =
    resumed?.optimizerState ?? createOptimizerState(options.optimizer, parameterShapes(spec));
  let best = resumed?.best;
  for (const loss of resumed?.validationLoss ?? []) stopping?.observe(loss);
  const epochLoss: number[] = resumed ? [...resumed.epochLoss] : [];
  const epochMs: number[] = [];
  let rounds = resumed?.rounds ?? 0;
  let trained = resumed?.trained ?? 0;
  let stopReason = auto
    ? ''
    : refit
      ? `the refit ran the ${maxEpochs} epochs the validation slice chose`
      : `it ran the ${maxEpochs} epochs asked for`;
  let epoch = resumed?.epoch ?? 0;
  for (; epoch < maxEpochs; epoch++) {
    const started = performance.now();
    if (refit) learningRate = refit.learningRates[epoch] ?? learningRate;
    if (learningRates.length === epoch) learningRates.push(learningRate);
    const continuing = resumed !== undefined && epoch === resumed.epoch;
    let lossSum = continuing ? resumed.lossSum : 0;
    let lossRows = continuing ? resumed.lossRows : 0;
    let rows = continuing ? resumed.rows : 0;
    const skip = continuing ? resumed.windows : 0;
    let windowIndex = 0;
    for await (const batches of windows(a.pass(), options.syncEvery)) {
      if (windowIndex++ < skip) continue;
      const out = await executor.map<TrainInput, TrainOutput>(
        a.tasks.train,
        batches.map((item) =>
          batchCall({
            context: a.context,
            ...item,
            preprocessing: a.preprocessing,
            spec,
            params,
            optimizerState,
            optimizer: optimizer(),
            minibatch: options.minibatch,
            seed: taskSeed(options.seed, epoch, inputId(item)),
          }),
        ),
      );
      ({ params, optimizerState } = averageRound(out, params, optimizerState));
      let roundLoss = 0;
      let roundRows = 0;
      for (const o of out) {
        a.addTimings(o.timings);
        roundLoss += o.lossSum;
        roundRows += o.rows;
        rows += o.rows;
      }
      if (!Number.isFinite(roundLoss)) {
        throw new TrainingDivergedError(
          `training diverged in epoch ${epoch + 1}, round ${rounds + 1} (loss ${roundLoss}); lower --learning-rate (now ${learningRate})`,
        );
      }
      lossSum += roundLoss;
      lossRows += roundRows;
      rounds++;
      trained += out.length;
      await executor.checkpoints?.save({
        fingerprint: a.fingerprint,
        stats,
        preprocessing: a.preprocessing,
        epoch,
        windows: windowIndex,
        params,
        optimizerState,
        epochLoss,
        lossSum,
        lossRows,
        rows,
        rounds,
        trained,
        learningRates,
        ...(stopping
          ? { validationLoss: stopping.losses, learningRate, ...(best ? { best } : {}) }
          : {}),
        ...(refit ? { refit } : {}),
        ...a.checkpointExtra,
      } satisfies TrainingCheckpoint);
      a.onRound({
        done: trained,
        total: stats.batches * maxEpochs,
        rows,
        epoch: epoch + 1,
        round: rounds,
        loss: roundRows > 0 ? roundLoss / roundRows : undefined,
      });
    }
    const trainLoss = lossRows > 0 ? lossSum / lossRows : NaN;
    epochLoss.push(trainLoss);
    if (stopping) {
      const validation = await validationLoss(a, params);
      const decision = stopping.observe(validation ?? trainLoss);
      if (decision.improved) best = { params: params.map((p) => p.slice()) };
      learningRate *= decision.learningRateFactor;
      epochMs.push(performance.now() - started);
      if (decision.stop) {
        stopReason =
          stopping.reason +
          (validation === undefined
            ? ' (the validation slice is empty: the training loss was watched)'
            : '');
        epoch++;
        break;
      }
    } else {
      epochMs.push(performance.now() - started);
    }
  }
  if (stopping && best) params = best.params;
  return {
    params,
    epochLoss,
    ...(stopping
      ? { validationLoss: [...stopping.losses], bestValidationLoss: stopping.bestLoss }
      : {}),
    rounds,
    epochMs,
    epochs: epoch,
    bestEpoch: stopping ? stopping.bestEpoch + 1 : epoch,
    learningRates: learningRates.slice(0, epoch),
    stopReason,
  };
}

/** Mean loss on the validation slice with `params`, or undefined when the slice has no rows. */
async function validationLoss(
  a: TrainLoopArgs,
  params: Float32Array[],
): Promise<number | undefined> {
  let merged = emptyEvalStats(a.spec.task, a.spec.outputs);
  const window = Math.max(2, a.executor.concurrency * 2);
  for await (const batches of windows(a.pass(), window)) {
    const out = await a.executor.map<EvaluateInput, EvaluateOutput>(
      a.tasks.validate,
      batches.map((item) =>
        batchCall({
          context: a.context,
          ...item,
          preprocessing: a.preprocessing,
          spec: a.spec,
          params,
        }),
      ),
    );
    for (const o of out) {
      a.addTimings(o.timings);
      merged = mergeEvalStats(merged, o.stats);
    }
  }
  if (merged.rows === 0) return undefined;
  const metrics = computeMetrics(merged);
  return metrics.task === 'classification' ? metrics.logLoss : metrics.rmse * metrics.rmse;
}

/** The round's synchronisation: weights and optimiser moments averaged by training rows. */
function averageRound(
  out: readonly TrainOutput[],
  params: Float32Array[],
  state: OptimizerState,
): { params: Float32Array[]; optimizerState: OptimizerState } {
  const weights = out.map((o) => o.rows);
  const averaged = weightedAverage(
    out.map((o) => o.params),
    weights,
    params,
  );
  const trained = out.filter((o) => o.rows > 0);
  if (trained.length === 0) return { params: averaged, optimizerState: state };
  return {
    params: averaged,
    optimizerState: averageOptimizerStates(
      out.map((o) => o.optimizerState),
      weights,
      state,
    ),
  };
}

function averageOptimizerStates(
  states: OptimizerState[],
  weights: number[],
  fallback: OptimizerState,
): OptimizerState {
  // Moments average like weights; the step counter (Adam's bias correction) takes the furthest.
  const step = Math.max(...states.map((s) => s.step));
  if (fallback.kind === 'adam') {
    const adam = states as Extract<OptimizerState, { kind: 'adam' }>[];
    return {
      ...fallback,
      step,
      m: weightedAverage(
        adam.map((s) => s.m),
        weights,
        fallback.m,
      ),
      v: weightedAverage(
        adam.map((s) => s.v),
        weights,
        fallback.v,
      ),
    };
  }
  const sgd = states as Extract<OptimizerState, { kind: 'sgd' }>[];
  return {
    ...fallback,
    step,
    velocity: weightedAverage(
      sgd.map((s) => s.velocity),
      weights,
      fallback.velocity,
    ),
  };
}

/** A per-(epoch, batch) shuffle seed: independent of which worker runs the batch. */
export function taskSeed(seed: number, epoch: number, batchId: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (epoch + 1), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (batchId + 0x27d4eb2f), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
