/**
 * A model version's statistics in Triton's shape (`GET /v2/models/{name}/stats`): counts and
 * total durations of requests and batches since the version was loaded, kept in plain numbers on
 * the request path.
 *
 * @module
 */
import type { BatchInfo, DynamicBatcherStats } from './batcher.js';
import type { InstancePoolStats } from './instances/instance-pool.js';
import type { Outcome } from './metrics.js';

/** A count and a total duration, Triton's `$duration_stat`. */
export interface DurationStat {
  count: number;
  ns: number;
}

/** Triton's per-model statistics, the parts that apply here. */
export interface ModelStatistics {
  readonly name: string;
  readonly version: string;
  /** Milliseconds since the epoch of the last inference; 0 before the first. */
  readonly last_inference: number;
  /** Rows inferred (Triton counts a batch of 8 as 8). */
  readonly inference_count: number;
  /** Batches run by instances. */
  readonly execution_count: number;
  readonly inference_stats: {
    readonly success: DurationStat;
    readonly fail: DurationStat;
    readonly queue: DurationStat;
    readonly compute_infer: DurationStat;
  };
  readonly batch_stats: readonly {
    readonly batch_size: number;
    readonly compute_infer: DurationStat;
  }[];
  /** mlscale's own: the batcher's and the instances' live state. */
  readonly batcher: DynamicBatcherStats;
  readonly instances: InstancePoolStats;
}

const kNsPerMs = 1e6;

/** Counts a model version's requests and batches. */
export class StatisticsRecorder {
  #lastInference = 0;
  #inferenceCount = 0;
  #executionCount = 0;
  readonly #success: DurationStat = { count: 0, ns: 0 };
  readonly #fail: DurationStat = { count: 0, ns: 0 };
  readonly #queue: DurationStat = { count: 0, ns: 0 };
  readonly #compute: DurationStat = { count: 0, ns: 0 };
  readonly #bySize = new Map<number, DurationStat>();

  /** A request answered after `ms`, with `rows` rows when it succeeded. */
  request(outcome: Outcome, ms: number, rows: number): void {
    const stat = outcome === 'success' ? this.#success : this.#fail;
    stat.count++;
    stat.ns += Math.round(ms * kNsPerMs);
    if (outcome === 'success') {
      this.#inferenceCount += rows;
      this.#lastInference = Date.now();
    }
  }

  /** A batch that ran (one of requests that were all refused ran nothing, and is not counted). */
  batch(info: BatchInfo): void {
    this.#executionCount++;
    this.#compute.count++;
    this.#compute.ns += Math.round(info.computeMs * kNsPerMs);
    let bySize = this.#bySize.get(info.size);
    if (!bySize) this.#bySize.set(info.size, (bySize = { count: 0, ns: 0 }));
    bySize.count++;
    bySize.ns += Math.round(info.computeMs * kNsPerMs);
    for (const wait of info.queueWaitMs) {
      this.#queue.count++;
      this.#queue.ns += Math.round(wait * kNsPerMs);
    }
  }

  /** The statistics so far, with the batcher's and the instances' live state. */
  snapshot(
    name: string,
    version: string,
    batcher: DynamicBatcherStats,
    instances: InstancePoolStats,
  ): ModelStatistics {
    return {
      name,
      version,
      last_inference: this.#lastInference,
      inference_count: this.#inferenceCount,
      execution_count: this.#executionCount,
      inference_stats: {
        success: { ...this.#success },
        fail: { ...this.#fail },
        queue: { ...this.#queue },
        compute_infer: { ...this.#compute },
      },
      batch_stats: [...this.#bySize.entries()]
        .sort(([a], [b]) => a - b)
        .map(([batch_size, d]) => ({ batch_size, compute_infer: { ...d } })),
      batcher,
      instances,
    };
  }
}
