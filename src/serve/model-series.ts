/**
 * A model version's Prometheus series, bound to its labels once (prom-client hashes labels on
 * every unbound call), with the per-request ones buffered (deferred-series.ts) and added to the
 * registry when it is read.
 *
 * @module
 */
import type { BatchInfo } from './batcher.js';
import { DeferredCounter, DeferredHistogram } from './deferred-series.js';
import type { Outcome, ServerMetrics } from './metrics.js';

/** One model version's series. */
export class ModelSeries {
  readonly #metrics: ServerMetrics;
  readonly #labels: { model: string; version: string };
  readonly #inFlight: { set(v: number): void };
  readonly #requests = new Map<Outcome, DeferredCounter>();
  readonly #requestDuration: DeferredHistogram;
  readonly #queueDuration: DeferredHistogram;
  readonly #computeDuration: { observe(v: number): void };
  readonly #batchSize: { observe(v: number): void };
  readonly #batchDelay: { observe(v: number): void };
  readonly #batchCostFixed: { set(v: number): void };
  readonly #batchCostPerRow: { set(v: number): void };

  constructor(m: ServerMetrics, labels: { model: string; version: string }) {
    this.#metrics = m;
    this.#labels = labels;
    this.#inFlight = m.inFlight.labels(labels);
    this.#requestDuration = new DeferredHistogram(m.requestDuration, labels);
    this.#queueDuration = new DeferredHistogram(m.queueDuration, labels);
    this.#computeDuration = m.computeDuration.labels(labels);
    this.#batchSize = m.batchSize.labels(labels);
    this.#batchDelay = m.batchDelay.labels(labels);
    this.#batchCostFixed = m.batchCostFixed.labels(labels);
    this.#batchCostPerRow = m.batchCostPerRow.labels(labels);
  }

  /** A request answered after `ms` with this outcome. */
  request(outcome: Outcome, ms: number): void {
    let counter = this.#requests.get(outcome);
    if (!counter)
      this.#requests.set(
        outcome,
        (counter = new DeferredCounter(this.#metrics.requests, { ...this.#labels, outcome })),
      );
    counter.inc();
    if (outcome === 'success') this.#requestDuration.observe(ms / 1000);
  }

  /** A batch that ran. */
  batch(info: BatchInfo): void {
    this.#computeDuration.observe(info.computeMs / 1000);
    this.#batchSize.observe(info.size);
    this.#batchDelay.observe(info.delayMs / 1000);
    for (const wait of info.queueWaitMs) this.#queueDuration.observe(wait / 1000);
    if (info.cost) {
      this.#batchCostFixed.set(info.cost.fixedMs / 1000);
      this.#batchCostPerRow.set(info.cost.perRowMs / 1000);
    }
  }

  /** Adds the buffered counts to the registry's series; with `inFlight`, sets the in-flight gauge too. */
  flush(inFlight?: number): void {
    if (inFlight !== undefined) this.#inFlight.set(inFlight);
    for (const counter of this.#requests.values()) counter.flush();
    this.#requestDuration.flush();
    this.#queueDuration.flush();
  }
}
