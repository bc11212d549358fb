/**
 * The training driver: the loop `for batch in batches: preprocess; train; evaluate` then
 * `aggregate`, run on any executor.
 *
 * 1. fit: statistics of every batch (map), merged in batch-id order (reduce) → preprocessing;
 * 2. train: epochs of synchronous rounds; each round hands `syncEvery` batches the same weights,
 *    and averages what they return, weighted by rows, in batch-id order;
 * 3. evaluate: held-out statistics of every batch with the final weights, merged in batch-id order.
 *
 * Nothing here depends on the executor or on completion order, so the model is bitwise the same
 * on every executor and worker count.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DataEmptyError, InvalidOptionError, SingleClassError, TrainingDivergedError } from '../errors.js';
import type { DataSource, Schema } from '../data/types.js';
import { initParameters, parameterShapes } from '../model/parameters.js';
import { createOptimizerState, type OptimizerConfig, type OptimizerState } from '../model/optimizers.js';
import type { ModelSpec, PreprocessingSpec } from '../model/spec.js';
import { weightedAverage } from './average.js';
import { batchCall, runInputs, windows } from './batch-stream.js';
import { computeMetrics, emptyEvalStats, mergeEvalStats, type Metrics } from './evaluate.js';
import type { Executor, TaskRef } from './executors/executor.js';
import type { TrainingOptions } from './options.js';
import type { SplitConfig } from './split-config.js';
import { loadStagesModule } from './stages-module.js';
import { featureWidth, finalizePreprocessing, mergeBatchStats, type BatchStats } from './stats.js';
import type {
  EvaluateInput,
  EvaluateOutput,
  StageTimings,
  StatsInput,
  StatsOutput,
  TaskContext,
  TrainInput,
  TrainOutput,
} from './tasks.js';
import { siblingModuleUrl } from '../util/module-url.js';
import { recordWindows, type WindowTiming } from './window-timings.js';

const tasksModule = siblingModuleUrl(import.meta.url, './tasks');
const task = (name: string): TaskRef => ({ module: tasksModule, name });

/** Phases of a run, in order. */
export type Phase = 'fit' | 'train' | 'evaluate';

/** A progress report, sent after every window of batches. */
export interface Progress {
  readonly phase: Phase;
  /** Batches done in this phase (training counts every epoch). */
  readonly done: number;
  /** Batches in this phase, once known (after the fit pass). */
  readonly total?: number;
  readonly rows: number;
  readonly epoch?: number;
  readonly round?: number;
  /** Mean training loss of the last round. */
  readonly loss?: number;
}

/** Wall-clock times of the phases, and CPU time of the stages summed over tasks, in milliseconds. */
export interface RunTimings {
  readonly phases: Record<Phase, number>;
  readonly stages: StageTimings;
  readonly total: number;
  /** Each window of batches (a fit or evaluate window, a training round) with its wall time. */
  readonly windows: WindowTiming[];
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
  };
  /** Mean training loss of each epoch. */
  readonly epochLoss: number[];
  readonly rounds: number;
  /** Training rounds that a resumed run found done (0 for a run that started from scratch). */
  readonly resumedRounds: number;
  readonly timings: RunTimings;
}

/** A run's state after a training round: what a restarted driver needs to continue. */
interface TrainingCheckpoint {
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
}

/** What a checkpoint must agree on with the run that resumes it. */
function runFingerprint(source: DataSource, o: Readonly<TrainingOptions>): string {
  const { data, label, task: t, batchSize, syncEvery, epochs, minibatch, model, hidden, activation, optimizer, learningRate, momentum, l2, seed, holdout, maxCategories, onBadRow, stages } = o;
  const settings = { source: source.description, data, label, task: t, batchSize, syncEvery, epochs, minibatch, model, hidden, activation, optimizer, learningRate, momentum, l2, seed, holdout, maxCategories, onBadRow, stages };
  return createHash('sha256').update(JSON.stringify(settings)).digest('hex');
}

/** Runs fit → train → evaluate over `source` on `executor`. */
export async function runTraining(
  source: DataSource,
  executor: Executor,
  options: Readonly<TrainingOptions>,
  onProgress: (p: Progress) => void = () => undefined,
): Promise<TrainingResult> {
  const started = performance.now();
  const timeline: WindowTiming[] = [];
  executor = recordWindows(executor, timeline, started);
  const label = options.label ?? source.defaultLabel;
  if (label === undefined) {
    throw new InvalidOptionError(`--label is required for ${source.description}: name the column to predict`);
  }
  const schema = await source.inferSchema({ label, task: options.task });
  const split: SplitConfig = { seed: options.seed, fraction: options.holdout };
  const context: TaskContext = { schema, split, stages: options.stages };
  const batchOptions = { batchRows: options.batchSize, onBadRow: options.onBadRow };
  const stages: StageTimings = { preprocess: 0, train: 0, evaluate: 0 };
  const addTimings = (t: StageTimings) => {
    stages.preprocess += t.preprocess;
    stages.train += t.train;
    stages.evaluate += t.evaluate;
  };
  const window = Math.max(2, executor.concurrency * 2);
  // Byte ranges instead of rows: only worth it across processes, and only for a file the workers see.
  const byteRanges = executor.remote === true && options.shipRows !== true && source.byteRanges?.shared === true;
  const inputs = runInputs(source, schema, batchOptions, byteRanges);
  const fingerprint = runFingerprint(source, options);
  // Only a run asked to resume reads a checkpoint: an executor may serve several runs in turn.
  const resumed = (options.resume !== undefined ? await executor.checkpoints?.load() : undefined) as TrainingCheckpoint | undefined;
  if (resumed && resumed.fingerprint !== fingerprint) {
    throw new InvalidOptionError(
      `--resume ${executor.run ?? ''}: that run was started with other data or settings; resume it with the same flags, or start a new run`,
    );
  }

  // 1. fit: map-reduce of the preprocessing statistics (done already when resuming).
  let t = performance.now();
  let stats: BatchStats | undefined = resumed?.stats;
  let rowsSeen = 0;
  if (!resumed) for await (const batches of windows(inputs(), window)) {
    const out = await executor.map<StatsInput, StatsOutput>(
      task('statsTask'),
      batches.map((item) => batchCall({ context, ...item })),
    );
    for (const o of out) {
      addTimings(o.timings);
      stats = stats ? mergeBatchStats(stats, o.stats, options.maxCategories * 20) : o.stats;
      rowsSeen += o.stats.rows;
    }
    onProgress({ phase: 'fit', done: stats!.batches, rows: rowsSeen });
  }
  if (!stats || stats.rows === 0) throw new DataEmptyError(`${source.description}: no data rows`);
  if (stats.trainRows === 0) throw new DataEmptyError(`${source.description}: every row fell in the held-out split; add rows or lower --holdout`);
  const preprocessing = resumed?.preprocessing ?? finalizePreprocessing(stats, schema, { maxCategories: options.maxCategories });
  if (schema.task === 'classification' && preprocessing.classes!.length < 2) {
    throw new SingleClassError(
      `${source.description}: label column "${schema.label}" has one class only (${JSON.stringify(preprocessing.classes![0])}); classification needs at least two`,
    );
  }
  const fitMs = performance.now() - t;

  // 2. train: synchronous data-parallel rounds.
  t = performance.now();
  const spec: ModelSpec = {
    family: options.model,
    task: schema.task,
    inputs: featureWidth(preprocessing),
    outputs: schema.task === 'classification' ? preprocessing.classes!.length : 1,
    hidden: options.model === 'mlp' ? options.hidden : [],
    activation: options.activation,
  };
  const optimizer: OptimizerConfig = {
    kind: options.optimizer,
    learningRate: options.learningRate,
    momentum: options.momentum,
    l2: options.l2,
  };
  let params = resumed?.params ?? initParameters(spec, options.seed);
  let optimizerState: OptimizerState = resumed?.optimizerState ?? createOptimizerState(optimizer.kind, parameterShapes(spec));
  const epochLoss: number[] = resumed ? [...resumed.epochLoss] : [];
  let rounds = resumed?.rounds ?? 0;
  let trained = resumed?.trained ?? 0;
  for (let epoch = resumed?.epoch ?? 0; epoch < options.epochs; epoch++) {
    const continuing = resumed !== undefined && epoch === resumed.epoch;
    let lossSum = continuing ? resumed.lossSum : 0;
    let lossRows = continuing ? resumed.lossRows : 0;
    let rows = continuing ? resumed.rows : 0;
    const skip = continuing ? resumed.windows : 0;
    let windowIndex = 0;
    for await (const batches of windows(inputs(), options.syncEvery)) {
      if (windowIndex++ < skip) continue;
      const out = await executor.map<TrainInput, TrainOutput>(
        task('trainTask'),
        batches.map((item) =>
          batchCall({
            context,
            ...item,
            preprocessing,
            spec,
            params,
            optimizerState,
            optimizer,
            minibatch: options.minibatch,
            seed: taskSeed(options.seed, epoch, item.batch?.id ?? item.ref!.id),
          }),
        ),
      );
      ({ params, optimizerState } = averageRound(out, params, optimizerState));
      let roundLoss = 0;
      let roundRows = 0;
      for (const o of out) {
        addTimings(o.timings);
        roundLoss += o.lossSum;
        roundRows += o.rows;
        rows += o.rows;
      }
      if (!Number.isFinite(roundLoss)) {
        throw new TrainingDivergedError(
          `training diverged in epoch ${epoch + 1}, round ${rounds + 1} (loss ${roundLoss}); lower --learning-rate (now ${options.learningRate})`,
        );
      }
      lossSum += roundLoss;
      lossRows += roundRows;
      rounds++;
      trained += out.length;
      await executor.checkpoints?.save({
        fingerprint,
        stats,
        preprocessing,
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
      } satisfies TrainingCheckpoint);
      onProgress({
        phase: 'train',
        done: trained,
        total: stats.batches * options.epochs,
        rows,
        epoch: epoch + 1,
        round: rounds,
        loss: roundRows > 0 ? roundLoss / roundRows : undefined,
      });
    }
    epochLoss.push(lossRows > 0 ? lossSum / lossRows : NaN);
  }
  const trainMs = performance.now() - t;

  // 3. evaluate: held-out statistics, merged in batch-id order.
  t = performance.now();
  let evalStats = emptyEvalStats(schema.task, spec.outputs);
  const customParts: unknown[] = [];
  let evaluated = 0;
  for await (const batches of windows(inputs(), window)) {
    const out = await executor.map<EvaluateInput, EvaluateOutput>(
      task('evaluateTask'),
      batches.map((item) => batchCall({ context, ...item, preprocessing, spec, params })),
    );
    for (const o of out) {
      addTimings(o.timings);
      evalStats = mergeEvalStats(evalStats, o.stats);
      if (o.custom !== undefined) customParts.push(o.custom);
    }
    evaluated += out.length;
    onProgress({ phase: 'evaluate', done: evaluated, total: stats.batches, rows: evalStats.rows });
  }
  let customMetrics: Record<string, number> | undefined;
  if (options.stages) {
    const mod = await loadStagesModule(options.stages);
    if (mod.aggregate) customMetrics = mod.aggregate(customParts);
  }
  const evaluateMs = performance.now() - t;
  // Done: nothing left to resume.
  await executor.checkpoints?.clear();

  return {
    schema,
    spec,
    preprocessing,
    params,
    metrics: computeMetrics(evalStats),
    customMetrics,
    data: {
      source: source.description,
      fingerprint: stats.fingerprint,
      batches: stats.batches,
      rows: stats.rows,
      trainRows: stats.trainRows,
      heldOutRows: stats.heldOutRows,
      skippedRows: stats.skippedRows,
    },
    epochLoss,
    rounds,
    resumedRounds: resumed?.rounds ?? 0,
    timings: {
      phases: { fit: fitMs, train: trainMs, evaluate: evaluateMs },
      stages,
      total: performance.now() - started,
      windows: timeline,
    },
  };
}

/** The round's synchronisation: weights and optimiser moments averaged by training rows. */
function averageRound(
  out: readonly TrainOutput[],
  params: Float32Array[],
  state: OptimizerState,
): { params: Float32Array[]; optimizerState: OptimizerState } {
  const weights = out.map((o) => o.rows);
  const averaged = weightedAverage(out.map((o) => o.params), weights, params);
  const trained = out.filter((o) => o.rows > 0);
  if (trained.length === 0) return { params: averaged, optimizerState: state };
  return { params: averaged, optimizerState: averageOptimizerStates(out.map((o) => o.optimizerState), weights, state) };
}

function averageOptimizerStates(states: OptimizerState[], weights: number[], fallback: OptimizerState): OptimizerState {
  // Moments average like weights; the step counter (Adam's bias correction) takes the furthest.
  const step = Math.max(...states.map((s) => s.step));
  if (fallback.kind === 'adam') {
    const adam = states as Extract<OptimizerState, { kind: 'adam' }>[];
    return {
      ...fallback,
      step,
      m: weightedAverage(adam.map((s) => s.m), weights, fallback.m),
      v: weightedAverage(adam.map((s) => s.v), weights, fallback.v),
    };
  }
  const sgd = states as Extract<OptimizerState, { kind: 'sgd' }>[];
  return { ...fallback, step, velocity: weightedAverage(sgd.map((s) => s.velocity), weights, fallback.velocity) };
}

/** A per-(epoch, batch) shuffle seed: independent of which worker runs the batch. */
export function taskSeed(seed: number, epoch: number, batchId: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (epoch + 1), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (batchId + 0x27d4eb2f), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
