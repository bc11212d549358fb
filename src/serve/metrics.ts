/**
 * The server's Prometheus metrics (prom-client), one registry per process. Names follow the
 * Prometheus conventions: `_total` counters, `_seconds` durations, base units.
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Outcome label of a finished inference request. */
export type Outcome = 'success' | 'client_error' | 'shed' | 'timeout' | 'cancelled' | 'error';

const latencyBuckets = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];
const batchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** Every metric the server exports. */
export class ServerMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'model' | 'version' | 'outcome'>;
  readonly requestDuration: Histogram<'model' | 'version'>;
  readonly queueDuration: Histogram<'model' | 'version'>;
  readonly computeDuration: Histogram<'model' | 'version'>;
  readonly batchSize: Histogram<'model' | 'version'>;
  readonly batchDelay: Histogram<'model' | 'version'>;
  readonly queueDepth: Gauge<'model' | 'version'>;
  readonly inFlight: Gauge<'model' | 'version'>;
  readonly instances: Gauge<'model' | 'version'>;
  readonly threads: Gauge<'model' | 'version'>;
  readonly ready: Gauge<'model' | 'version'>;
  readonly batchCostFixed: Gauge<'model' | 'version'>;
  readonly batchCostPerRow: Gauge<'model' | 'version'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registry = new Registry();
    this.registry = registry;
    if (options.defaultMetrics !== false) {
      // prom-client's standard names (`process_cpu_seconds_total`, `nodejs_heap_size_used_bytes`)
      // under the server's prefix, as Node.js dashboards know them.
      collectDefaultMetrics({ register: registry, prefix: 'mlscale_' });
      // Gauges named like counters, which `promtool check metrics` refuses; each is the sum over
      // its unsuffixed twin's `type` label (`sum(mlscale_nodejs_active_handles)`).
      for (const name of ['active_handles', 'active_requests', 'active_resources'])
        registry.removeSingleMetric(`mlscale_nodejs_${name}_total`);
    }
    const labelNames = ['model', 'version'] as const;
    // Series updated on every request are buffered by their owners and added here when read.
    const collect = (): void => this.#collect();
    this.requests = new Counter({
      collect,
      name: 'mlscale_inference_requests_total',
      help: 'Inference requests finished, by model, version and outcome (success, client_error, shed, timeout, cancelled, error).',
      labelNames: ['model', 'version', 'outcome'] as const,
      registers: [registry],
    });
    this.requestDuration = new Histogram({
      collect,
      name: 'mlscale_inference_request_duration_seconds',
      help: 'Time from a request arriving to its response being ready, in seconds.',
      labelNames,
      buckets: latencyBuckets,
      registers: [registry],
    });
    this.queueDuration = new Histogram({
      collect,
      name: 'mlscale_inference_queue_duration_seconds',
      help: 'Time a request waited in its model queue before its batch started, in seconds.',
      labelNames,
      buckets: latencyBuckets,
      registers: [registry],
    });
    this.computeDuration = new Histogram({
      name: 'mlscale_inference_compute_duration_seconds',
      help: 'Time a model instance took to run one batch, in seconds.',
      labelNames,
      buckets: latencyBuckets,
      registers: [registry],
    });
    this.batchSize = new Histogram({
      name: 'mlscale_inference_batch_size',
      help: 'Rows in each batch run by a model instance (after dynamic batching).',
      labelNames,
      buckets: batchBuckets,
      registers: [registry],
    });
    this.batchDelay = new Histogram({
      name: 'mlscale_inference_batch_delay_seconds',
      help: 'How long the batcher chose to hold a partial batch open for more requests, in seconds.',
      labelNames,
      buckets: [0, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers: [registry],
    });
    this.queueDepth = new Gauge({
      name: 'mlscale_inference_queue_depth',
      help: 'Requests waiting in the model queue.',
      labelNames,
      registers: [registry],
    });
    this.inFlight = new Gauge({
      name: 'mlscale_inference_in_flight_requests',
      help: 'Requests accepted and not yet answered (queued or running).',
      labelNames,
      registers: [registry],
      collect,
    });
    this.instances = new Gauge({
      name: 'mlscale_model_instances',
      help: 'onnxruntime instances (worker threads) of the model.',
      labelNames,
      registers: [registry],
    });
    this.threads = new Gauge({
      name: 'mlscale_model_intra_op_threads',
      help: 'onnxruntime intra-op threads over all instances of the model (instances x threads per instance); summed over replicas, at most the cores unless set by hand.',
      labelNames,
      registers: [registry],
    });
    this.ready = new Gauge({
      name: 'mlscale_model_ready',
      help: '1 when the model version can answer requests, else 0.',
      labelNames,
      registers: [registry],
    });
    this.batchCostFixed = new Gauge({
      name: 'mlscale_batcher_cost_fixed_seconds',
      help: 'Adaptive batching: fitted fixed cost of a batch (intercept of compute time against rows), in seconds.',
      labelNames,
      registers: [registry],
    });
    this.batchCostPerRow = new Gauge({
      name: 'mlscale_batcher_cost_per_row_seconds',
      help: 'Adaptive batching: fitted cost per row (slope of compute time against rows), in seconds.',
      labelNames,
      registers: [registry],
    });
  }

  /** Which loaded model version reports under each model/version label pair. */
  readonly #owners = new Map<string, object>();

  /** What `onCollect` registered: flushes of per-request buffers (see deferred-series.ts). */
  readonly #collectors = new Set<() => void>();

  /**
   * Runs `flush` whenever a per-request series is read (a scrape, the cluster's merge, the
   * dashboard's sampler), so that buffered updates are in what is read.
   * @returns a function that unregisters it.
   */
  onCollect(flush: () => void): () => void {
    this.#collectors.add(flush);
    return () => this.#collectors.delete(flush);
  }

  /** Exports the server's request bytes in flight and their budget (see bytes-in-flight.ts). */
  watchBytesInFlight(used: () => number, limit: number): void {
    new Gauge({
      name: 'mlscale_request_bytes_in_flight',
      help: 'Bytes of request bodies being read, queued or run now.',
      registers: [this.registry],
      collect() {
        this.set(used());
      },
    });
    new Gauge({
      name: 'mlscale_request_bytes_in_flight_limit',
      help: 'The budget of request bytes in flight (--max-bytes-in-flight); requests past it get 503.',
      registers: [this.registry],
    }).set(limit);
  }

  /** Exports the tracer's losses: spans dropped on a full export queue, batches not taken. */
  watchTraceExport(
    stats: () => { readonly droppedSpans: number; readonly failedExports: number },
  ): void {
    const counter = (name: string, help: string, read: (s: ReturnType<typeof stats>) => number) => {
      let reported = 0;
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          const now = read(stats());
          this.inc(now - reported);
          reported = now;
        },
      });
    };
    counter(
      'mlscale_trace_spans_dropped_total',
      'Spans dropped because the export queue was full (OTEL_BSP_MAX_QUEUE_SIZE): tracing never slows requests.',
      (s) => s.droppedSpans,
    );
    counter(
      'mlscale_trace_exports_failed_total',
      'Span batches the OTLP endpoint did not take (unreachable, refused, timed out).',
      (s) => s.failedExports,
    );
  }

  #collect(): void {
    for (const flush of this.#collectors) {
      try {
        flush();
      } catch {
        // A collector's failure must not fail the scrape.
      }
    }
  }

  /**
   * Records `owner` as the one reporting under these labels. A version reloaded in place shares its
   * labels with the copy it replaces; that copy's `forget` must not drop the new one's series.
   */
  claim(model: string, version: string, owner: object): void {
    this.#owners.set(`${model}\0${version}`, owner);
  }

  /** Drops a model version's series when it is unloaded; with `owner`, only if it still owns them. */
  forget(model: string, version: string, owner?: object): void {
    const key = `${model}\0${version}`;
    if (owner !== undefined && this.#owners.has(key) && this.#owners.get(key) !== owner) return;
    this.#owners.delete(key);
    for (const m of [
      this.requestDuration,
      this.queueDuration,
      this.computeDuration,
      this.batchSize,
      this.batchDelay,
      this.queueDepth,
      this.inFlight,
      this.instances,
      this.threads,
      this.ready,
      this.batchCostFixed,
      this.batchCostPerRow,
    ]) {
      (m as Gauge<'model' | 'version'>).remove({ model, version });
    }
  }
}
