/**
 * What every route of the model server can reach, in a file of its own so that the routes and the
 * server that registers them do not import each other.
 *
 * @module
 */
import type { ServerMetrics } from './metrics.js';
import type { FilledServeOptions } from './options.js';
import type { ModelRepository } from './repository.js';
import type { ServeTracing } from '../telemetry/types.js';

/** What every route can reach. */
export interface ServerContext {
  readonly options: Readonly<FilledServeOptions>;
  readonly repository: ModelRepository;
  readonly metrics: ServerMetrics;
  /** True once shutdown has begun: readiness turns false first. */
  draining(): boolean;
  /** Where GET /metrics comes from when not this process's registry (a cluster replica asks its primary). */
  readonly metricsText?: () => Promise<string>;
  /** Spans for requests, queues, batches and runs; absent when tracing is off (the default). */
  readonly tracing?: ServeTracing;
}
