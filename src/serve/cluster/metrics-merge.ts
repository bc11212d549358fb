/**
 * One scrape sees the whole host: the primary asks each replica for its registry's metrics and
 * merges them with prom-client's AggregatorRegistry (counters and histograms summed, gauges as
 * each metric's aggregator says), then adds its own.
 *
 * @module
 */
import { AggregatorRegistry, Registry } from 'prom-client';
import type { IpcRequests } from '../../util/ipc-request.js';
import { kTopic } from './messages.js';
import type { MetricsJson } from './observer.js';

/** Every replica's metrics that arrive in time; one that does not answer is left out of this scrape. */
export async function collectMetrics(
  replicas: readonly { readonly ipc: IpcRequests }[],
): Promise<MetricsJson[]> {
  const answers = await Promise.all(
    replicas.map((r) => r.ipc.request<MetricsJson>(kTopic.collect).catch(() => undefined)),
  );
  return answers.filter((a) => a !== undefined);
}

/** The replicas' metrics merged. */
export function mergeMetrics(answers: readonly MetricsJson[]): Registry {
  return AggregatorRegistry.aggregate([...answers]);
}

/** The replicas' metrics merged with the primary's own, as Prometheus text. */
export function mergedText(answers: readonly MetricsJson[], own: Registry): Promise<string> {
  return Registry.merge([mergeMetrics(answers), own]).metrics();
}
