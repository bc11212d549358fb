/**
 * `trainModel`: the whole job behind `mlscale train` — open the data, run the pipeline on an
 * executor, export the model with its preprocessing, and write the artifact folder.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { openSource } from '../data/open-source.js';
import { writeArtifact } from '../model/artifact.js';
import { buildExportGraph, describeExportIO } from '../model/export-graph.js';
import { version } from '../version.js';
import { createExecutor, type Executor } from './executors/index.js';
import { resolveTrainingOptions, type TrainingOptions } from './options.js';
import { runTraining, type Progress, type TrainingResult } from './run-training.js';
import { resolveStagesModule } from './stages-module.js';

/** What `trainModel` returns: the run's result, where the artifact went, and its metadata. */
export interface TrainedModel {
  readonly result: TrainingResult;
  readonly artifact: string;
  readonly metadata: Record<string, unknown>;
  readonly options: Readonly<TrainingOptions>;
  /** Milliseconds spent exporting and writing the artifact. */
  readonly exportMs: number;
}

/** Hooks and injected parts of `trainModel`. */
export interface TrainModelHooks {
  readonly onProgress?: (p: Progress) => void;
  /** Use this executor instead of creating one from `options.executor`; it is not closed. */
  readonly executor?: Executor;
  /** Called with the executor before the run starts (the CLI prints a bullmq run's id). */
  readonly onExecutor?: (executor: Executor) => void;
}

/**
 * Trains a model as `mlscale train` does and writes `<out>/model.onnx` and `<out>/metadata.json`.
 * Rejects with a coded error on bad options or bad data; leaves no partial artifact behind.
 */
export async function trainModel(
  options: Partial<TrainingOptions>,
  hooks: TrainModelHooks = {},
): Promise<TrainedModel> {
  const resolved = resolveTrainingOptions(options);
  const stagesUrl = resolved.stages ? await resolveStagesModule(resolved.stages) : undefined;
  const filled = Object.freeze({ ...resolved, stages: stagesUrl });
  const source = openSource(filled.data);
  const executor =
    hooks.executor ??
    createExecutor(filled.executor, {
      workers: filled.workers,
      redis: filled.redis,
      redisCa: filled.redisCa,
      prefix: filled.prefix,
      run: filled.resume,
      attempts: filled.attempts,
      keepFailedSeconds:
        filled.keepFailedHours === undefined
          ? undefined
          : Math.round(filled.keepFailedHours * 3600),
    });
  let result: TrainingResult;
  try {
    hooks.onExecutor?.(executor);
    result = await runTraining(source, executor, filled, hooks.onProgress);
  } finally {
    if (!hooks.executor) await executor.close();
  }
  const t = performance.now();
  const model = buildExportGraph(result.spec, result.params, result.preprocessing);
  const metadata = buildMetadata(result, filled, executor);
  const artifact = await writeArtifact(filled.out, model, metadata);
  return { result, artifact, metadata, options: filled, exportMs: performance.now() - t };
}

function buildMetadata(
  r: TrainingResult,
  o: Readonly<TrainingOptions>,
  executor: Executor,
): Record<string, unknown> {
  const io = describeExportIO(r.spec, r.preprocessing);
  return {
    task: r.spec.task,
    model: {
      family: r.spec.family,
      inputs: r.spec.inputs,
      outputs: r.spec.outputs,
      hidden: r.spec.hidden,
      activation: r.spec.activation,
    },
    ...io,
    schema: {
      label: r.schema.label,
      columns: r.schema.columns,
      categorical: r.data.categories,
      ...(r.schema.naValues ? { naValues: r.schema.naValues } : {}),
    },
    classes: r.preprocessing.classes,
    preprocessing: {
      numeric: {
        names: r.preprocessing.numeric.names,
        mean: [...r.preprocessing.numeric.mean],
        std: [...r.preprocessing.numeric.std],
        missing: 'imputed with the training mean',
      },
      categorical: {
        names: r.preprocessing.categorical.names,
        vocab: r.preprocessing.categorical.vocab,
        unseen: 'all-zero one-hot block',
      },
      target: r.preprocessing.target,
    },
    metrics: r.metrics,
    customMetrics: r.customMetrics,
    data: r.data,
    training: {
      epochs: r.training.epochs,
      epochsAsked: r.training.asked,
      bestEpoch: r.training.bestEpoch,
      stopReason: r.training.stopReason,
      ...(r.training.validationLoss
        ? {
            validationLoss: r.training.validationLoss,
            validationFraction: r.training.validationFraction,
          }
        : {}),
      batchSize: o.batchSize,
      syncEvery: o.syncEvery,
      minibatch: o.minibatch,
      optimizer: o.optimizer,
      learningRate: o.learningRate,
      momentum: o.momentum,
      l2: o.l2,
      seed: o.seed,
      holdout: o.holdout,
      rounds: r.rounds,
      epochLoss: r.epochLoss,
      ...(r.resumedRounds > 0 ? { resumedRounds: r.resumedRounds } : {}),
      onBadRow: o.onBadRow,
    },
    stages: o.stages
      ? {
          module: o.stages,
          note: "the model expects rows as transformed by this module's preprocess stage, if it has one",
        }
      : undefined,
    // `workers`: the processes that ran batches where the executor knows them (bullmq), beside
    // the slots it planned for; otherwise the threads it ran.
    executor: {
      kind: executor.kind,
      workers: executor.workersUsed ?? executor.concurrency,
      ...(executor.workersUsed === undefined ? {} : { slots: executor.concurrency }),
      ...(executor.run === undefined ? {} : { run: executor.run }),
    },
    cache: r.cache,
    timings: { ...r.timings },
    versions: {
      mlscale: version,
      node: process.versions.node,
      onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
    },
    createdAt: new Date().toISOString(),
  };
}
