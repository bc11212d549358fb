/**
 * The dashboard's sampler: once a second it reads the server's prom-client metrics (as
 * `getMetricsAsJSON()` gives them: the process's own registry, or the primary's merge of every
 * replica's) and turns the counters and histograms into rates over the last second — requests/s,
 * latency p50/p99 from the histogram's buckets, errors, shed requests, queue depth, batch sizes,
 * instances — kept in a ring buffer of the last few minutes.
 *
 * Reading the metrics rather than hooking the request path costs the serving code nothing, and
 * the same code serves one process and a fleet of replicas.
 *
 * @module
 */
import type { Registry } from 'prom-client';
import type {
  ActivitySnapshot,
  BatchSizeBucket,
  DashboardDecision,
  DashboardSample,
} from './types.js';

/** One registry's metrics as `getMetricsAsJSON()` gives them. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** What the sampler takes. */
export interface SamplerOptions {
  /** Reads the metrics to sample. */
  readonly collect: () => Promise<MetricsJson>;
  /** Replicas listening, when a primary samples its fleet. */
  readonly replicas?: () => number;
  /** The autoscaler decisions to show with the samples. */
  readonly decisions?: () => readonly DashboardDecision[];
  /** Time between samples, in ms. */
  readonly intervalMs?: number;
  /** Samples kept: the window the charts show. */
  readonly capacity?: number;
  /** Samples summed for the batch size distribution. */
  readonly batchWindow?: number;
}

export const kDefaultSamplerOptions = {
  intervalMs: 1_000,
  capacity: 300, // 5 minutes at one sample a second
  batchWindow: 60, // the last minute
} as const;

const kRequests = 'mlscale_inference_requests_total';
const kLatency = 'mlscale_inference_request_duration_seconds';
const kBatchSize = 'mlscale_inference_batch_size';
const kQueueDepth = 'mlscale_inference_queue_depth';
const kInFlight = 'mlscale_inference_in_flight_requests';
const kInstances = 'mlscale_model_instances';
/** Outcomes counted as errors on the chart; `shed` has its own line, `cancelled` is the client's doing. */
const kErrorOutcomes = new Set(['client_error', 'timeout', 'error']);

/** Cumulative readings of one collection. */
interface Reading {
  readonly t: number;
  readonly requests: number;
  readonly errors: number;
  readonly shed: number;
  /** Histogram buckets: upper bound → cumulative count, summed over series. */
  readonly latency: Map<number, number>;
  readonly batch: Map<number, number>;
  readonly batchSum: number;
  readonly batchCount: number;
  readonly queueDepth: number;
  readonly inFlight: number;
  readonly instances: number;
}

/** Samples the server's metrics into a ring buffer. */
export class MetricsSampler {
  readonly #collect: () => Promise<MetricsJson>;
  readonly #replicas: (() => number) | undefined;
  readonly #decisions: () => readonly DashboardDecision[];
  readonly #intervalMs: number;
  readonly #capacity: number;
  readonly #batchWindow: number;
  readonly #samples: DashboardSample[] = [];
  /** Batch size bucket counts of each sample (not cumulative), parallel to #samples. */
  readonly #batchDeltas: Map<number, number>[] = [];
  #last: Reading | undefined;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(options: SamplerOptions) {
    const o = { ...kDefaultSamplerOptions, ...options };
    this.#collect = o.collect;
    this.#replicas = o.replicas;
    this.#decisions = o.decisions ?? (() => []);
    this.#intervalMs = o.intervalMs;
    this.#capacity = o.capacity;
    this.#batchWindow = o.batchWindow;
  }

  /** Starts sampling every interval; the timer does not keep the process alive. */
  start(): this {
    if (this.#timer) return this;
    void this.sampleNow();
    this.#timer = setInterval(() => void this.sampleNow(), this.#intervalMs);
    this.#timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Takes one reading now and, from the second one on, appends a sample of the change since the
   * last. A reading that fails (a replica gone mid-collection) is skipped.
   */
  async sampleNow(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const reading = read(await this.#collect(), Date.now());
      const last = this.#last;
      this.#last = reading;
      if (last) this.#push(reading, last);
    } catch {
      // The next interval tries again; a dashboard must never take the server down.
    } finally {
      this.#busy = false;
    }
  }

  /** The samples after `since` (all of them without), the recent batch sizes and the decisions. */
  snapshot(since = 0): ActivitySnapshot {
    const samples = this.#samples.filter((s) => s.t > since);
    const totals = new Map<number, number>();
    for (const d of this.#batchDeltas.slice(-this.#batchWindow))
      for (const [le, n] of d) totals.set(le, (totals.get(le) ?? 0) + n);
    const batchSizes: BatchSizeBucket[] = [...totals.entries()]
      .sort(([a], [b]) => a - b)
      .map(([le, count]) => ({ le: Number.isFinite(le) ? String(le) : '+Inf', count }));
    return {
      intervalMs: this.#intervalMs,
      mode: this.#replicas ? 'replicas' : 'single',
      samples,
      batchSizes,
      decisions: this.#decisions(),
    };
  }

  #push(now: Reading, last: Reading): void {
    const seconds = Math.max(0.001, (now.t - last.t) / 1000);
    // Counters only grow; a drop means a series went away (a model unloaded, a replica died).
    const rate = (a: number, b: number): number => Math.max(0, a - b) / seconds;
    const latency = deltas(now.latency, last.latency);
    const batch = deltas(now.batch, last.batch);
    const batchCount = Math.max(0, now.batchCount - last.batchCount);
    const batchSum = Math.max(0, now.batchSum - last.batchSum);
    const p50 = quantile(latency, 0.5);
    const p99 = quantile(latency, 0.99);
    this.#samples.push({
      t: now.t,
      rps: rate(now.requests, last.requests),
      p50Ms: p50 === null ? null : p50 * 1000,
      p99Ms: p99 === null ? null : p99 * 1000,
      errors: rate(now.errors, last.errors),
      shed: rate(now.shed, last.shed),
      queueDepth: now.queueDepth,
      inFlight: now.inFlight,
      meanBatch: batchCount > 0 ? batchSum / batchCount : null,
      instances: now.instances,
      replicas: this.#replicas ? this.#replicas() : null,
    });
    this.#batchDeltas.push(nonCumulative(batch));
    if (this.#samples.length > this.#capacity) {
      this.#samples.shift();
      this.#batchDeltas.shift();
    }
  }
}

/** Sums the series of the metrics the dashboard shows. */
function read(metrics: MetricsJson, t: number): Reading {
  let requests = 0;
  let errors = 0;
  let shed = 0;
  let batchSum = 0;
  let batchCount = 0;
  let queueDepth = 0;
  let inFlight = 0;
  let instances = 0;
  const latency = new Map<number, number>();
  const batch = new Map<number, number>();
  for (const metric of metrics) {
    switch (metric.name) {
      case kRequests:
        for (const v of metric.values) {
          requests += v.value;
          const outcome = String(v.labels['outcome'] ?? '');
          if (outcome === 'shed') shed += v.value;
          else if (kErrorOutcomes.has(outcome)) errors += v.value;
        }
        break;
      case kLatency:
        addBuckets(metric.values, latency);
        break;
      case kBatchSize:
        addBuckets(metric.values, batch);
        for (const v of metric.values as { metricName?: string; value: number }[]) {
          if (v.metricName?.endsWith('_sum')) batchSum += v.value;
          else if (v.metricName?.endsWith('_count')) batchCount += v.value;
        }
        break;
      case kQueueDepth:
        queueDepth = sum(metric.values);
        break;
      case kInFlight:
        inFlight = sum(metric.values);
        break;
      case kInstances:
        instances = sum(metric.values);
        break;
    }
  }
  return {
    t,
    requests,
    errors,
    shed,
    latency,
    batch,
    batchSum,
    batchCount,
    queueDepth,
    inFlight,
    instances,
  };
}

function sum(values: readonly { value: number }[]): number {
  return values.reduce((s, v) => s + v.value, 0);
}

/** Adds a histogram's `_bucket` series into `into` (upper bound → cumulative count). */
function addBuckets(
  values: readonly {
    value: number;
    labels: Record<string, string | number | undefined>;
    metricName?: string;
  }[],
  into: Map<number, number>,
): void {
  for (const v of values) {
    if (!v.metricName?.endsWith('_bucket')) continue;
    const le = v.labels['le'] === '+Inf' ? Infinity : Number(v.labels['le']);
    if (Number.isNaN(le)) continue;
    into.set(le, (into.get(le) ?? 0) + v.value);
  }
}

/** Cumulative bucket counts of the interval: now minus last, never negative. */
function deltas(now: Map<number, number>, last: Map<number, number>): [number, number][] {
  return [...now.entries()]
    .sort(([a], [b]) => a - b)
    .map(([le, n]) => [le, Math.max(0, n - (last.get(le) ?? 0))]);
}

/** Per-bucket counts from cumulative ones. */
function nonCumulative(cumulative: [number, number][]): Map<number, number> {
  const out = new Map<number, number>();
  let below = 0;
  for (const [le, n] of cumulative) {
    out.set(le, Math.max(0, n - below));
    below = Math.max(below, n);
  }
  return out;
}

/**
 * The q-quantile of a cumulative histogram, interpolated linearly within its bucket as
 * Prometheus's `histogram_quantile` does; the highest finite bound when it falls in `+Inf`.
 *
 * @returns null when the histogram is empty.
 */
export function quantile(
  cumulative: readonly (readonly [number, number])[],
  q: number,
): number | null {
  const total = cumulative.length > 0 ? cumulative[cumulative.length - 1]![1] : 0;
  if (!(total > 0)) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, n] of cumulative) {
    if (n >= rank) {
      if (!Number.isFinite(le)) return lower;
      const inBucket = n - below;
      return inBucket > 0 ? lower + (le - lower) * ((rank - below) / inBucket) : le;
    }
    lower = le;
    below = n;
  }
  return lower;
}
