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
import { performance } from 'node:perf_hooks';
import { BatchCache } from '../data/batch-cache.js';
import { DataEmptyError, InvalidOptionError, SingleClassError } from '../errors.js';
import type { DataSource } from '../data/types.js';
import type { ModelFamily, ModelSpec } from '../model/spec.js';
import { batchCall, passWindow, windows } from './batch-stream.js';
import { DataPasses } from './data-passes.js';
import { autoStoppingPolicy } from './early-stopping.js';
import { computeMetrics, emptyEvalStats, mergeEvalStats } from './evaluate.js';
import type { Executor, TaskRef } from './executors/executor.js';
import type { TrainingOptions } from './options.js';
import type { SplitConfig } from './split-config.js';
import { loadStagesModule } from './stages-module.js';
import { featureWidth, finalizePreprocessing } from './stats.js';
import type { EvaluateInput, EvaluateOutput, StageTimings, TaskContext } from './tasks.js';
import { compareModels, type ModelComparison } from './model-choice.js';
import { ridgePass, solvesExactly } from './ridge-pass.js';
import { trainLoop, type Candidate, type TrainingCheckpoint } from './train-loop.js';
import { siblingModuleUrl } from '../util/module-url.js';
import { recordWindows, type WindowTiming } from './window-timings.js';
import { stageDelta, stageWallTimes } from './stage-wall.js';
import { withRunProgress } from './progress-report.js';
import { enablePipelineTracing, flushPipelineTracing } from '../telemetry/pipeline-tracing.js';
import { fitPass } from './fit-pass.js';
import { runFingerprint } from './run-fingerprint.js';
import type { Progress, TrainingResult } from './training-result.js';

export type {
  CacheReport,
  Phase,
  Progress,
  RunTimings,
  TrainingResult,
  TrainingRun,
} from './training-result.js';

const tasksModule = siblingModuleUrl(import.meta.url, './tasks');
const task = (name: string): TaskRef => ({ module: tasksModule, name });

/** Runs fit → train → evaluate over `source` on `executor`. */
export async function runTraining(
  source: DataSource,
  executor: Executor,
  options: Readonly<TrainingOptions>,
  onProgress: (p: Progress) => void = () => undefined,
): Promise<TrainingResult> {
  const started = performance.now();
  // Watchers of a bullmq run (the dashboard) see it from its first phase, with the run's total.
  const store = executor.checkpoints;
  onProgress = withRunProgress(onProgress, store?.reportProgress?.bind(store));
  // OTEL_* variables ask for traces, or nothing of OpenTelemetry loads (see telemetry/).
  await enablePipelineTracing();
  const timeline: WindowTiming[] = [];
  executor = recordWindows(executor, timeline, started);
  // Threads load the task module and onnxruntime (a few hundred ms each) while this thread reads
  // the schema, instead of after it.
  const warming =
    executor.remote === true
      ? undefined
      : executor
          .map(
            task('warmTask'),
            Array.from({ length: executor.concurrency }, (_, id) => ({ input: {}, id })),
          )
          .catch(() => undefined);
  const label = options.label ?? source.defaultLabel;
  if (label === undefined) {
    throw new InvalidOptionError(
      `--label is required for ${source.description}: name the column to predict`,
    );
  }
  const schema = await source.inferSchema({
    label,
    task: options.task,
    ...(options.naValues ? { naValues: options.naValues } : {}),
    ...(options.categorical ? { categorical: options.categorical } : {}),
    ...(options.numeric ? { numeric: options.numeric } : {}),
  });
  const split: SplitConfig = { seed: options.seed, fraction: options.holdout };
  const batchOptions = { batchRows: options.batchSize, onBadRow: options.onBadRow };
  const stages: StageTimings = { preprocess: 0, train: 0, evaluate: 0 };
  const addTimings = (t: StageTimings) => {
    stages.preprocess += t.preprocess;
    stages.train += t.train;
    stages.evaluate += t.evaluate;
    stages.read = (stages.read ?? 0) + (t.read ?? 0);
  };
  const window = passWindow(executor.concurrency);
  const remote = executor.remote === true;
  const cache =
    options.cache === 'none'
      ? undefined
      : await BatchCache.open(source, schema, batchOptions, {
          mode: options.cache,
          memoryBytes: options.cacheMemory,
          remote,
          ...(options.cacheDir ? { dir: options.cacheDir } : {}),
        });
  const passes = new DataPasses(
    source,
    schema,
    batchOptions,
    { remote, shipRows: options.shipRows === true },
    cache,
  );
  const context: TaskContext = {
    schema,
    split,
    stages: options.stages,
    ...(passes.localCacheKey ? { localCacheKey: passes.localCacheKey } : {}),
  };
  const fingerprint = runFingerprint(source, options);
  await warming;
  try {
    // Only a run asked to resume reads a checkpoint: an executor may serve several runs in turn.
    const resumed = (
      options.resume !== undefined ? await executor.checkpoints?.load() : undefined
    ) as TrainingCheckpoint | undefined;
    if (resumed && resumed.fingerprint !== fingerprint) {
      throw new InvalidOptionError(
        `--resume ${executor.run ?? ''}: that run was started with other data or settings; resume it with the same flags, or start a new run`,
      );
    }

    // 1. fit: map-reduce of the preprocessing statistics (done already when resuming), on the
    // pass that reads the data and fills the cache.
    let t = performance.now();
    const stats =
      resumed?.stats ??
      (await fitPass(
        executor,
        task('statsTask'),
        passes,
        context,
        window,
        options.maxCategories,
        addTimings,
        onProgress,
      ));
    if (stats.rows === 0) {
      throw new DataEmptyError(
        stats.skippedRows > 0
          ? `every one of the ${stats.skippedRows} data rows of ${source.description} was bad and skipped`
          : `${source.description}: no data rows`,
      );
    }
    if (stats.trainRows === 0)
      throw new DataEmptyError(
        `${source.description}: every row fell in the held-out split; add rows or lower --holdout`,
      );
    const preprocessing =
      resumed?.preprocessing ??
      finalizePreprocessing(stats, schema, { maxCategories: options.maxCategories });
    if (schema.task === 'classification' && preprocessing.classes!.length < 2) {
      throw new SingleClassError(
        `${source.description}: label column "${schema.label}" has one class only (${JSON.stringify(preprocessing.classes![0])}); classification needs at least two`,
      );
    }
    const fitMs = performance.now() - t;
    const fitStages = { ...stages };

    // 2. train.
    t = performance.now();
    const specFor = (family: ModelFamily): ModelSpec => ({
      family,
      task: schema.task,
      inputs: featureWidth(preprocessing),
      outputs: schema.task === 'classification' ? preprocessing.classes!.length : 1,
      hidden: family === 'mlp' ? options.hidden : [],
      activation: options.activation,
    });
    // With early stopping, the training rows lose a validation slice (see early-stopping.ts).
    const policy = options.epochs === 'auto' ? autoStoppingPolicy(stats.trainRows) : undefined;
    const families: ModelFamily[] =
      options.model !== 'auto' ? [options.model] : policy?.refit ? ['linear', 'mlp'] : ['mlp'];
    const loop = {
      executor,
      options,
      context: policy
        ? {
            ...context,
            split: {
              ...split,
              validation: policy.validationFraction,
              compare: families.length > 1,
            },
          }
        : context,
      preprocessing,
      stats,
      pass: () => passes.again(),
      tasks: { train: task('trainTask'), validate: task('validateTask') },
      fingerprint,
      addTimings,
      onRound: (p: Omit<Progress, 'phase'>) => onProgress({ phase: 'train', ...p }),
    };
    // `model: 'auto'` on a small table tries a linear model and an MLP on the validation slice
    // and keeps the MLP only when it is clearly better (`model-choice.ts`); elsewhere it is an
    // MLP. A checkpoint of a later step carries the results of the earlier ones: they are not
    // run again.
    const candidates: Candidate[] = resumed?.refit ? [] : [...(resumed?.candidates ?? [])];
    for (const family of resumed?.refit ? [] : families) {
      if (candidates.some((c) => c.family === family)) continue;
      const resumedHere =
        resumed !== undefined && (resumed.family ?? family) === family ? resumed : undefined;
      const spec = specFor(family);
      const selection =
        policy && solvesExactly(spec)
          ? await ridgePass({
              executor,
              context: loop.context,
              spec,
              preprocessing,
              pass: loop.pass,
              task: task('gramTask'),
              addTimings,
            })
          : await trainLoop({
              ...loop,
              spec,
              checkpointExtra: { family, candidates: [...candidates] },
              ...(resumedHere ? { resumed: resumedHere } : {}),
            });
      candidates.push({ family, selection });
    }
    let comparison: ModelComparison | undefined;
    let chosen: Candidate;
    if (resumed?.refit) chosen = { family: resumed.family!, selection: resumed.refit.selection };
    else if (candidates.length === 2) {
      comparison = await compareModels({
        executor,
        context: loop.context,
        preprocessing,
        models: [
          { spec: specFor(candidates[0]!.family), params: candidates[0]!.selection.params },
          { spec: specFor(candidates[1]!.family), params: candidates[1]!.selection.params },
        ],
        pass: loop.pass,
        task: task('compareTask'),
        addTimings,
      });
      chosen = candidates[comparison.second ? 1 : 0]!;
    } else chosen = candidates[0]!;
    const spec = specFor(chosen.family);
    const selection = chosen.selection;
    let trained = selection;
    const exact = (selection as { refitParams?: Float32Array[] }).refitParams;
    if (exact) trained = { ...selection, params: exact };
    // An exact linear solve already used every training row.
    else if (policy?.refit) {
      const refit = {
        epochs: selection.bestEpoch,
        learningRates: selection.learningRates.slice(0, selection.bestEpoch),
        selection,
      };
      const resumedRefit = resumed?.refit ? resumed : undefined;
      trained = await trainLoop({
        ...loop,
        spec,
        context,
        refit,
        checkpointExtra: { family: chosen.family, candidates },
        ...(resumedRefit ? { resumed: resumedRefit } : {}),
      });
    }
    const trainMs = performance.now() - t;
    const trainStages = { ...stages };

    // 3. evaluate: held-out statistics, merged in batch-id order.
    t = performance.now();
    let evalStats = emptyEvalStats(schema.task, spec.outputs);
    const customParts: unknown[] = [];
    let evaluated = 0;
    for await (const batches of windows(passes.again(), window)) {
      const out = await executor.map<EvaluateInput, EvaluateOutput>(
        task('evaluateTask'),
        batches.map((item) =>
          batchCall({ context, ...item, preprocessing, spec, params: trained.params }),
        ),
      );
      for (const o of out) {
        addTimings(o.timings);
        evalStats = mergeEvalStats(evalStats, o.stats);
        if (o.custom !== undefined) customParts.push(o.custom);
      }
      evaluated += out.length;
      onProgress({
        phase: 'evaluate',
        done: evaluated,
        total: stats.batches,
        rows: evalStats.rows,
      });
    }
    let customMetrics: Record<string, number> | undefined;
    if (options.stages) {
      const mod = await loadStagesModule(options.stages);
      if (mod.aggregate) customMetrics = mod.aggregate(customParts);
    }
    const evaluateMs = performance.now() - t;
    // Done: nothing left to resume.
    await executor.checkpoints?.clear();
    await flushPipelineTracing();

    return {
      schema,
      spec,
      preprocessing,
      params: trained.params,
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
        categories: schema.categorical.map((name, i) => ({
          name,
          distinct: stats.categories[i]!.length,
          kept: preprocessing.categorical.vocab[i]!.length,
        })),
      },
      epochLoss: trained.epochLoss,
      training: {
        asked: options.epochs,
        epochs: trained.epochs,
        bestEpoch: trained.bestEpoch,
        stopReason: selection.stopReason,
        ...(policy
          ? {
              validationLoss: selection.validationLoss!,
              validationFraction: policy.validationFraction,
              ...(policy.refit ? { selectionEpochs: selection.epochs } : {}),
            }
          : {}),
        ...(comparison
          ? {
              modelChoice: {
                families: candidates.map((c) => c.family),
                chosen: chosen.family,
                ...comparison,
              },
            }
          : {}),
      },
      cache: {
        mode: options.cache,
        memoryBytes: cache?.memoryUsed ?? 0,
        totalBytes: cache?.totalBytes ?? 0,
        reused: cache?.reused !== undefined,
        where: passes.localCacheKey === undefined ? 'driver' : 'workers',
        ...(options.cacheDir && cache ? { dir: cache.dir } : {}),
      },
      rounds:
        trained.rounds +
        (trained.epochMs === selection.epochMs
          ? 0
          : candidates.reduce((n, c) => n + c.selection.rounds, 0)),
      resumedRounds: resumed?.rounds ?? 0,
      timings: {
        phases: { fit: fitMs, train: trainMs, evaluate: evaluateMs },
        stages,
        phaseStages: {
          fit: fitStages,
          train: stageDelta(trainStages, fitStages),
          evaluate: stageDelta(stages, trainStages),
        },
        stageWall: stageWallTimes([
          { stages: fitStages, wallMs: fitMs },
          { stages: stageDelta(trainStages, fitStages), wallMs: trainMs },
          { stages: stageDelta(stages, trainStages), wallMs: evaluateMs },
        ]),
        total: performance.now() - started,
        epochs: [
          ...candidates.flatMap((c) => c.selection.epochMs),
          ...(trained.epochMs === selection.epochMs ? [] : trained.epochMs),
        ],
        windows: timeline,
      },
    };
  } finally {
    await cache?.close();
  }
}
