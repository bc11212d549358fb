/**
 * How the replicas' primary is observed from outside: an observer is told when the primary
 * starts (with a view of the fleet), of each autoscaler decision, and when it stops, and may
 * answer the replicas' requests on a topic of its own (a replica's plugins ask through
 * `ServerView.askPrimary`). The dashboard's fleet view is one, registered by `mlscale serve`;
 * serve knows no observer by name.
 *
 * @module
 */
import type { Registry } from 'prom-client';
import type { AutoscalerDecision } from '../autoscaler.js';

/** One registry's metrics as `getMetricsAsJSON()` gives them. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** What an observer sees of the replicas. */
export interface FleetView {
  /** The metrics of every replica listening now (draining ones left out), merged as for GET /metrics. */
  metrics(): Promise<MetricsJson>;
  /** Replicas listening now, draining ones left out. */
  listening(): number;
}

/** The counts an autoscaler decision was taken from. */
export interface FleetSize {
  readonly replicas: number;
  readonly instancesPerReplica: number;
}

/** An observer of the replicas' primary. */
export interface ClusterObserver {
  /** Names the observer in errors and logs. */
  readonly name: string;
  /** The topic of the replicas' requests it answers (`answer`), if any. */
  readonly topic?: string;
  /** The primary starts its replicas. */
  onStart?(fleet: FleetView): void;
  /** Every autoscaler decision (holds included), with the counts it was taken from. */
  onDecision?(decision: AutoscalerDecision, from: FleetSize): void;
  /** Answers a replica's request on `topic`; a throw or a rejection is the replica's error. */
  answer?(body: unknown): unknown;
  /** The primary stops. */
  onStop?(): void;
}

/** Topics the primary answers itself, which an observer cannot take. */
export const kReservedTopics: readonly string[] = ['collect', 'sample', 'metrics'];

/** Checks a list of observers as given; TypeError naming the first wrong one. */
export function checkObservers(
  observers: unknown,
  where = 'observers',
): readonly ClusterObserver[] {
  if (!Array.isArray(observers))
    throw new TypeError(`${where} must be an array of observers, got ${typeof observers}`);
  const topics = new Set<string>();
  observers.forEach((o: Partial<ClusterObserver> | null, i) => {
    const at = `${where}[${i}]`;
    if (o === null || typeof o !== 'object')
      throw new TypeError(
        `${at} must be an observer object, got ${o === null ? 'null' : typeof o}`,
      );
    if (typeof o.name !== 'string' || o.name === '')
      throw new TypeError(`${at}.name must be a non-empty string, got ${typeof o.name}`);
    for (const hook of ['onStart', 'onDecision', 'answer', 'onStop'] as const) {
      if (o[hook] !== undefined && typeof o[hook] !== 'function')
        throw new TypeError(`${at}.${hook} (${o.name}) must be a function, got ${typeof o[hook]}`);
    }
    if (o.topic !== undefined) {
      if (typeof o.topic !== 'string' || o.topic === '')
        throw new TypeError(
          `${at}.topic (${o.name}) must be a non-empty string, got ${typeof o.topic}`,
        );
      if (kReservedTopics.includes(o.topic) || topics.has(o.topic))
        throw new RangeError(`${at}.topic (${o.name}): ${JSON.stringify(o.topic)} is taken`);
      if (o.answer === undefined)
        throw new TypeError(`${at}.answer (${o.name}) must be a function, since it has a topic`);
      topics.add(o.topic);
    }
  });
  return observers as readonly ClusterObserver[];
}
