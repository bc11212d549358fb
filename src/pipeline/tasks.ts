/**
 * The pipeline's task functions: what runs per batch on an executor, in this thread, a worker
 * thread or a worker process. Each one applies the stages to one batch:
 * `statsTask` (preprocess fit, map side), `trainTask` (preprocess → train), `evaluateTask`
 * (preprocess → evaluate). Inputs are read-only; outputs are fresh arrays the caller owns.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import { DataNotFoundError, StagesModuleError } from '../errors.js';
import {
  loadBatch,
  localCache,
  storeBatch,
  type CachedBatch,
  type CachePlacement,
} from '../data/cached-batch.js';
import type { DataSource, RawBatch, Schema } from '../data/types.js';
import { openSource } from '../data/open-source.js';
import { inputId, type BatchInput } from './batch-stream.js';
import type { ModelSpec, PreprocessingSpec } from '../model/spec.js';
import type { OptimizerConfig, OptimizerState } from '../model/optimizers.js';
import { forwardBatch, trainOnBatch } from '../model/trainer.js';
import { classificationStats, regressionStats, type EvalStats } from './evaluate.js';
import { prepareRows, type PreparedRows } from './preprocess.js';
import type { SplitConfig } from './split-config.js';
import { loadStagesModule } from './stages-module.js';
import { addGram, gramOf, type GramSums } from './ridge.js';
import { fitBatchStats, type BatchStats } from './stats.js';

/** What every task is given besides its batch. */
export interface TaskContext {
  readonly schema: Schema;
  readonly split: SplitConfig;
  /** URL of a user stages module, if any. */
  readonly stages?: string;
  /**
   * Workers in other processes: the key of their own batch caches. A task handed a reference
   * looks there first, and a first-pass task told `local` stores its batch there.
   */
  readonly localCacheKey?: string;
}

/** Wall time spent in each stage by one task, in milliseconds. */
export interface StageTimings {
  preprocess: number;
  train: number;
  evaluate: number;
  /**
   * Of `preprocess`: getting the batch (built from its reference, read, or taken from a cache).
   * A remote worker's cache holds only the batches it ran, so with more workers more of this is
   * rebuilding (pipeline-model.ts); absent where a task does not time it.
   */
  read?: number;
}

export type StatsInput = BatchInput & {
  readonly context: TaskContext;
  /** Where to store the parsed batch for later passes (the batch cache), if anywhere. */
  readonly cache?: CachePlacement;
};
export interface StatsOutput {
  readonly batchId: number;
  readonly stats: BatchStats;
  readonly timings: StageTimings;
  /** Where the batch was cached, for the driver's index (nothing for a worker-local entry). */
  readonly cached?: CachedBatch;
}

export type TrainInput = BatchInput & {
  readonly context: TaskContext;
  readonly preprocessing: PreprocessingSpec;
  readonly spec: ModelSpec;
  readonly params: readonly Float32Array[];
  readonly optimizerState: OptimizerState;
  readonly optimizer: OptimizerConfig;
  readonly minibatch: number;
  /** Seed of this batch's shuffle: derived from the run seed, the epoch and the batch id. */
  readonly seed: number;
};
export interface TrainOutput {
  readonly batchId: number;
  /** Training rows this batch had: its weight in the round's average. */
  readonly rows: number;
  readonly params: Float32Array[];
  readonly optimizerState: OptimizerState;
  /** Sum over minibatches of mean loss × minibatch rows. */
  readonly lossSum: number;
  readonly steps: number;
  readonly timings: StageTimings;
}

export type EvaluateInput = BatchInput & {
  readonly context: TaskContext;
  readonly preprocessing: PreprocessingSpec;
  readonly spec: ModelSpec;
  readonly params: readonly Float32Array[];
  /** The rows to score: the held-out rows (default), or the validation slice (early stopping). */
  readonly rows?: 'heldOut' | 'validation';
};
export interface EvaluateOutput {
  readonly batchId: number;
  readonly stats: EvalStats;
  /** What the user's `evaluate` stage returned, if there is one. */
  readonly custom?: unknown;
  readonly timings: StageTimings;
}

/** Map side of the preprocessing fit; on the first pass, also stores the batch in the cache. */
export async function statsTask(input: StatsInput): Promise<StatsOutput> {
  const t0 = performance.now();
  const parsed = await resolveBatch(input, input.context);
  const read = performance.now() - t0;
  const cached = input.cache === undefined ? undefined : await storeBatch(parsed, input.cache);
  const batch = await customPreprocess(parsed, input.context);
  const stats = fitBatchStats(batch, input.context.schema, input.context.split);
  const out = {
    batchId: parsed.id,
    stats,
    timings: { preprocess: performance.now() - t0, train: 0, evaluate: 0, read },
  };
  return cached === undefined ? out : { ...out, cached };
}

/** preprocess → train on one batch, starting from the round's weights. */
export async function trainTask(input: TrainInput): Promise<TrainOutput> {
  const t0 = performance.now();
  const resolved = await resolveBatch(input, input.context);
  const read = performance.now() - t0;
  const batch = await customPreprocess(resolved, input.context);
  const rows = prepareRows(batch, input.preprocessing, input.context.split, 'train');
  const t1 = performance.now();
  // Copies: the inputs are shared with the round's other tasks when running inline.
  const params = input.params.map((p) => p.slice());
  const optimizerState = cloneOptimizerState(input.optimizerState);
  const result = await trainOnBatch({
    spec: input.spec,
    params,
    optState: optimizerState,
    optimizer: input.optimizer,
    x: rows.x,
    y: rows.y,
    rows: rows.rows,
    minibatch: input.minibatch,
    seed: input.seed,
  });
  const t2 = performance.now();
  return {
    batchId: batch.id,
    rows: rows.rows,
    params: result.params,
    optimizerState: result.optState,
    lossSum: result.lossSum,
    steps: result.steps,
    timings: { preprocess: t1 - t0, train: t2 - t1, evaluate: 0, read },
  };
}

/** preprocess → evaluate the held-out rows of one batch with the final weights. */
export async function evaluateTask(input: EvaluateInput): Promise<EvaluateOutput> {
  const t0 = performance.now();
  const { context, preprocessing: pre, spec } = input;
  const resolved = await resolveBatch(input, context);
  const read = performance.now() - t0;
  const batch = await customPreprocess(resolved, context);
  const which = input.rows ?? 'heldOut';
  const rows = prepareRows(batch, pre, context.split, which);
  const t1 = performance.now();
  const raw =
    rows.rows > 0
      ? await forwardBatch(spec, input.params as Float32Array[], rows.x, rows.rows)
      : new Float32Array(0);
  let output = raw;
  let stats: EvalStats;
  if (spec.task === 'classification') {
    stats = classificationStats(rows, raw, spec.outputs);
  } else {
    // The model learnt the standardised target; metrics are in the target's own units.
    const { mean, std } = pre.target!;
    output = Float32Array.from(raw, (v) => v * std + mean);
    stats = regressionStats(rows, output);
  }
  let custom: unknown;
  if (context.stages && which === 'heldOut') {
    const stages = await loadStagesModule(context.stages);
    if (stages.evaluate) {
      custom = await stages.evaluate({
        batchId: batch.id,
        rows: rows.rows,
        target: rows.target,
        output,
        preprocessing: pre,
      });
    }
  }
  return {
    batchId: batch.id,
    stats,
    custom,
    timings: { preprocess: t1 - t0, train: 0, evaluate: performance.now() - t1, read },
  };
}

export type GramInput = BatchInput & {
  readonly context: TaskContext;
  readonly preprocessing: PreprocessingSpec;
  readonly spec: ModelSpec;
};
export interface GramOutput {
  readonly batchId: number;
  readonly train: GramSums;
  /** The validation slice's rows (both halves). */
  readonly validation: GramSums;
  readonly timings: StageTimings;
}

/** The normal equations' sums of one batch's training rows and validation rows (`ridge.ts`). */
export async function gramTask(input: GramInput): Promise<GramOutput> {
  const t0 = performance.now();
  const batch = await customPreprocess(await resolveBatch(input, input.context), input.context);
  const train = prepareRows(batch, input.preprocessing, input.context.split, 'train');
  // The whole slice, both halves: the final solve uses every training row.
  const first = prepareRows(batch, input.preprocessing, input.context.split, 'validation');
  const second = prepareRows(batch, input.preprocessing, input.context.split, 'comparison');
  const t1 = performance.now();
  const width = input.spec.inputs;
  return {
    batchId: batch.id,
    train: gramOf(train.x, train.y, train.rows, width),
    validation: addGram(
      gramOf(first.x, first.y, first.rows, width),
      gramOf(second.x, second.y, second.rows, width),
    ),
    timings: { preprocess: t1 - t0, train: performance.now() - t1, evaluate: 0 },
  };
}

export type CompareInput = BatchInput & {
  readonly context: TaskContext;
  readonly preprocessing: PreprocessingSpec;
  /** The two models to compare on the validation rows: the simpler first. */
  readonly models: readonly [
    { readonly spec: ModelSpec; readonly params: readonly Float32Array[] },
    { readonly spec: ModelSpec; readonly params: readonly Float32Array[] },
  ];
};
export interface CompareOutput {
  readonly batchId: number;
  /** Rows, and sums of d and d² where d = loss of the second model − loss of the first, per row. */
  readonly rows: number;
  readonly sum: number;
  readonly sumSquares: number;
  readonly timings: StageTimings;
}

/**
 * Paired losses of two models on the second half of one batch's validation slice: per row,
 * log-loss (classification) or squared error of the standardised target (regression), second
 * model minus first.
 */
export async function compareTask(input: CompareInput): Promise<CompareOutput> {
  const t0 = performance.now();
  const batch = await customPreprocess(await resolveBatch(input, input.context), input.context);
  const rows = prepareRows(batch, input.preprocessing, input.context.split, 'comparison');
  const t1 = performance.now();
  const losses = await Promise.all(
    input.models.map(async ({ spec, params }) =>
      rowLosses(spec, await forwardBatch(spec, params as Float32Array[], rows.x, rows.rows), rows),
    ),
  );
  let sum = 0;
  let sumSquares = 0;
  for (let r = 0; r < rows.rows; r++) {
    const d = losses[1]![r]! - losses[0]![r]!;
    sum += d;
    sumSquares += d * d;
  }
  return {
    batchId: batch.id,
    rows: rows.rows,
    sum,
    sumSquares,
    timings: { preprocess: t1 - t0, train: 0, evaluate: performance.now() - t1 },
  };
}

/** Per-row loss of a model's outputs: -log p(true class), or the squared error of the standardised target. */
function rowLosses(spec: ModelSpec, output: Float32Array, rows: PreparedRows): Float64Array {
  const out = new Float64Array(rows.rows);
  const k = spec.outputs;
  for (let r = 0; r < rows.rows; r++) {
    if (spec.task === 'classification')
      out[r] = -Math.log(
        Math.min(1, Math.max(1e-15, output[r * k + (rows.target as Int32Array)[r]!]!)),
      );
    else out[r] = (output[r]! - rows.y[r]!) ** 2;
  }
  return out;
}

/** Scores the validation slice with an epoch's weights: what early stopping watches. */
export function validateTask(input: EvaluateInput): Promise<EvaluateOutput> {
  return evaluateTask({ ...input, rows: 'validation' });
}

/**
 * Loads this module (and onnxruntime with it) on a worker thread and does nothing else: the driver
 * sends one per thread while it reads the schema, so threads start in parallel with it.
 */
export function warmTask(): null {
  return null;
}

/** A task that does nothing: measures an executor's dispatch overhead. */
export function noopTask(input: BatchInput): { batchId: number } {
  return { batchId: inputId(input) };
}

/** Sources reopened by reference in this thread, kept for the next batches of the run. */
const sources = new Map<string, DataSource>();

/**
 * The task's batch: the one it was handed, the cache's copy, or the one its reference names
 * (from this worker process's own cache when it has it, else built here).
 */
async function resolveBatch(input: BatchInput, context: TaskContext): Promise<RawBatch> {
  if (input.batch) return input.batch;
  // A stages module may change its batch in place: it then gets a copy, and the cache stays as it was.
  if (input.cached) return loadBatch(input.cached, context.stages !== undefined);
  const ref = input.ref!;
  if (context.localCacheKey !== undefined) {
    const local = await localCache().load(context.localCacheKey, ref.id);
    if (local !== undefined) return local;
  }
  let source = sources.get(ref.source);
  if (!source) {
    source = openSource(ref.source);
    sources.set(ref.source, source);
  }
  if (ref.span) {
    if (!source.byteRanges) throw new TypeError(`${ref.source} cannot read batches by byte range`);
    try {
      return await source.byteRanges.readSpan(context.schema, ref.span, ref.options);
    } catch (err) {
      if (!(err instanceof DataNotFoundError)) throw err;
      const where = /^(csv|jsonl):https?:\/\//i.test(ref.source)
        ? 'batches of a file named by URL are read by each worker from that URL; make it reachable from every worker machine'
        : 'batches of a file named by absolute path are read by each worker from that path; put the file there on every worker machine';
      throw new DataNotFoundError(
        `${err.message}: ${where}, or run mlscale train with --ship-rows to send the rows`,
        { cause: err },
      );
    }
  }
  if (!source.randomAccess) throw new TypeError(`${ref.source} cannot build batches by reference`);
  return source.randomAccess.readBatch(context.schema, ref.id, ref.options);
}

async function customPreprocess(batch: RawBatch, context: TaskContext): Promise<RawBatch> {
  if (!context.stages) return batch;
  const stages = await loadStagesModule(context.stages);
  if (!stages.preprocess) return batch;
  const out = await stages.preprocess(batch, { schema: context.schema });
  if (
    !out ||
    out.rowCount !== batch.rowCount ||
    out.numeric?.length !== batch.numeric.length ||
    out.catCodes?.length !== batch.catCodes.length
  ) {
    throw new StagesModuleError(
      `--stages: preprocess must return a batch with the same rows and columns (batch ${batch.id}: ` +
        `expected rowCount ${batch.rowCount}, numeric length ${batch.numeric.length}, got ` +
        `rowCount ${String(out?.rowCount)}, numeric length ${String(out?.numeric?.length)})`,
    );
  }
  return out;
}

function cloneOptimizerState(state: OptimizerState): OptimizerState {
  return structuredClone(state);
}
