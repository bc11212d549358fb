/**
 * `mlscale/serve`: the model server as a library — what `mlscale serve` is a thin layer over.
 *
 * A server serves one model (an artifact folder written by `mlscale train`, or any `.onnx` file)
 * or a repository of models (`<repo>/<model>/<version>/model.onnx`) over the Open Inference
 * Protocol (KServe v2 / Triton REST), with dynamic batching and several onnxruntime instances per
 * model. Options are validated here, once; errors name them (`options.port must be ...`).
 *
 * @example
 * import { createModelServer } from 'mlscale/serve';
 *
 * const server = await createModelServer({
 *   model: 'runs/digits', // or modelRepository: 'models'
 *   port: 0, // a free port
 *   modelOverrides: { maxBatchSize: 32, instances: 1 },
 * });
 * const url = await server.listen();
 * const answer = await fetch(`${url}/v2/models/digits/infer`, {
 *   method: 'POST',
 *   headers: { 'content-type': 'application/json' },
 *   body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 64], data: new Array(64).fill(0) }] }),
 * });
 * console.log(await answer.json());
 * await server.close(); // drains: in-flight requests finish, within gracePeriodMs
 *
 * @example
 * // Several processes on this host sharing the port, as `mlscale serve --replicas auto` runs
 * // them. The same file runs the primary and, forked by it, each replica.
 * import { serve } from 'mlscale/serve';
 *
 * process.exitCode = await serve({
 *   modelRepository: 'models',
 *   replicas: 'auto',
 *   autoscaler: { minReplicas: 1, maxReplicas: 4, targetOngoingRequests: 8 },
 * });
 *
 * @module
 */

/** Build a model server from options (validated), then `listen()` and `close()` it. */
export { createModelServer, type ModelServer, type ServerSetup } from './server.js';
/** Serve until stopped, as `mlscale serve` does: one server, or a node:cluster primary and its replicas. */
export { serve, closeOnSignals, type ServeSetup } from './serve.js';
/** The server's options, their defaults and validation. */
export {
  resolveServeOptions,
  kDefaultServeOptions,
  defaultModelSettings,
  defaultMaxBytesInFlight,
  defaultMaxConnections,
  kLogLevels,
  type ServeOptions,
  type FilledServeOptions,
  type ModelSettings,
} from './options.js';
/** The replicas' options (count or `auto`, warm spares, the autoscaler's bounds), their defaults and validation. */
export {
  resolveReplicaOptions,
  kDefaultReplicaOptions,
  defaultAutoscalerBounds,
  type ReplicaOptions,
  type FilledReplicaOptions,
  type AutoscalerSettings,
} from './cluster/options.js';
/** Whether this process is a replica forked by `serve({ replicas })`. */
export { isReplicaProcess } from './cluster/replica.js';
/** The autoscaling policy: a pure function from signals to a decision. */
export {
  autoscale,
  initialAutoscalerState,
  resolveAutoscalerConfig,
  kDefaultAutoscalerConfig,
  type AutoscalerConfig,
  type AutoscalerState,
  type AutoscalerDecision,
  type AutoscalerAction,
  type Signals,
} from './autoscaler.js';
/** Extension points: server plugins (Fastify routes and hooks) and observers of the replicas' primary. */
export type { ServerPlugin, ServerView } from './plugins.js';
export type { ClusterObserver, FleetView, FleetSize, MetricsJson } from './cluster/observer.js';
/** What a plugin reads: the models and the metrics. */
export type { ModelRepository, IndexEntry, ModelState } from './repository.js';
export type { ServedModel, ModelMetadata } from './served-model.js';
export type { ModelStatistics } from './model-statistics.js';
export type { ServerMetrics } from './metrics.js';
