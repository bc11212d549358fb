/**
 * The dashboard with replicas (`mlscale serve --replicas`): requests land on any replica, but the
 * fleet's view — every replica's activity merged, replicas over time, the autoscaler's decisions —
 * lives in the primary. This is the primary's side, a cluster observer: it samples the replicas'
 * merged metrics (as for GET /metrics) and keeps the decisions; a replica answering
 * /dashboard/api/* asks it for that snapshot on the `dashboard` topic (see serve-dashboard.ts).
 *
 * @module
 */
import type { ClusterObserver } from '../serve/cluster/observer.js';
import { DecisionLog } from './decision-log.js';
import { MetricsSampler } from './sampler.js';
import type { ActivitySnapshot } from './types.js';

/** The topic replicas ask the primary's fleet dashboard on. */
export const kFleetTopic = 'dashboard';

/** A replica's request for the fleet snapshot. */
export interface FleetRequest {
  /** Samples after this time (ms since the epoch) are wanted; 0 for all that is kept. */
  readonly since: number;
}

/** The primary's side of the dashboard: a sampler over the merged metrics, and the decision log. */
export function fleetDashboard(): ClusterObserver {
  const decisions = new DecisionLog();
  let sampler: MetricsSampler | undefined;
  return {
    name: 'dashboard',
    topic: kFleetTopic,
    onStart(fleet) {
      sampler = new MetricsSampler({
        collect: () => fleet.metrics(),
        replicas: () => fleet.listening(),
        decisions: () => decisions.list(),
      }).start();
    },
    onDecision(decision, from) {
      decisions.record(decision, from);
    },
    answer(body): ActivitySnapshot {
      if (!sampler) throw new Error('the fleet dashboard has not started');
      const since = Number((body as Partial<FleetRequest> | undefined)?.since) || 0;
      return sampler.snapshot(since);
    },
    onStop() {
      sampler?.stop();
    },
  };
}
