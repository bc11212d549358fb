/**
 * mlscale's library API. The command line is a thin layer over these.
 *
 * @module
 */

/** Train a model as `mlscale train` does and write its artifact folder. */
export { trainModel, type TrainedModel, type TrainModelHooks } from './pipeline/train-model.js';
/** The training driver on a given source and executor, without writing an artifact. */
export {
  runTraining,
  type TrainingResult,
  type Progress,
  type Phase,
} from './pipeline/run-training.js';
/** Training options, their defaults and validation. */
export {
  resolveTrainingOptions,
  kDefaultTrainingOptions,
  type TrainingOptions,
} from './pipeline/options.js';
/** Executors: the one interface and the built-in kinds. */
export {
  createExecutor,
  InlineExecutor,
  ThreadsExecutor,
  type Executor,
  type TaskRef,
  type TaskCall,
} from './pipeline/executors/index.js';
/** Data sources. */
export { openSource } from './data/open-source.js';
export type { DataSource, RawBatch, Schema, BatchRef, RandomAccess } from './data/types.js';
/** Reading model artifact folders. */
export { readArtifact } from './model/artifact.js';
/** INT8, FP16 and graph-optimised variants of any ONNX model, measured against it (`mlscale optimize`). */
export {
  optimizeModel,
  type OptimizeReport,
  type VariantReport,
  type OptimizeHooks,
} from './model/optimize/optimize.js';
export {
  resolveOptimizeOptions,
  kDefaultOptimizeOptions,
  type OptimizeOptions,
  type VariantKind,
} from './model/optimize/options.js';
/** Load generation against one URL: open loop at a fixed rate (latency from the scheduled send) or closed loop. */
export {
  runLoad,
  kDefaultLoadOptions,
  type LoadOptions,
  type LoadProgress,
  type LoadResult,
} from './analysis/loadgen.js';
/** Scaling analysis: sweep files, the fits (linear, Amdahl, USL) and the advisor. */
export { readSweepFile, writeSweepFile } from './analysis/sweep-file.js';
export {
  advise,
  type Advice,
  type AdviseOptions,
  type Recommendation,
  type CostOption,
  type Lever,
} from './analysis/advisor.js';
export {
  linearFit,
  linearityCheck,
  amdahlFit,
  uslFit,
  uslThroughput,
  type LinearFit,
  type LinearityCheck,
  type AmdahlFit,
  type UslFit,
} from './analysis/fit.js';
export {
  kSweepSchemaVersion,
  type SweepFile,
  type ServeSweep,
  type PipelineSweep,
} from './analysis/sweep-schema.js';
/** Sweeps: a server over replicas × instances × batching (the highest rate within a p99 SLO), the pipeline over data size × workers. */
export {
  sweepServe,
  resolveServeSweepOptions,
  kDefaultServeSweepOptions,
  type ServeSweepOptions,
} from './analysis/sweep-serve.js';
export {
  sweepPipeline,
  resolvePipelineSweepOptions,
  kDefaultPipelineSweepOptions,
  type PipelineSweepOptions,
} from './analysis/sweep-pipeline.js';
/** Writes the scaling report (report.html, report.md, charts/); Vega is loaded on the first call, not on import. */
export async function writeReport(
  ...args: Parameters<typeof import('./analysis/report.js').writeReport>
): ReturnType<typeof import('./analysis/report.js').writeReport> {
  return (await import('./analysis/report.js')).writeReport(...args);
}
/** Coded errors. */
export {
  MlscaleError,
  InvalidOptionError,
  DataNotFoundError,
  DataEmptyError,
  DataParseError,
  DataValueError,
  LabelNotFoundError,
  SingleClassError,
  ShapeError,
  StagesModuleError,
  TaskFailedError,
  TrainingDivergedError,
  ArtifactError,
  ExecutorClosedError,
  InferenceRequestError,
  BatchTooLargeError,
  PayloadTooLargeError,
  ModelNotFoundError,
  ModelNotReadyError,
  ModelLoadError,
  QueueFullError,
  RequestTimeoutError,
  InstanceFailedError,
  ShuttingDownError,
  UnauthorizedError,
  ForbiddenError,
  LoadTargetUnreachableError,
  SweepFileError,
  SweepVersionError,
  ServerUnreachableError,
  NotOnnxError,
  OnnxCorruptError,
  NothingToQuantizeError,
  isMlscaleError,
  errorClasses,
} from './errors.js';
