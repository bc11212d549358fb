/**
 * The primary's own metrics, served with the replicas' merged ones on GET /metrics.
 *
 * @module
 */
import { Counter, Gauge, Registry } from 'prom-client';

/** The primary's registry and its series. */
export class PrimaryMetrics {
  readonly registry = new Registry();
  readonly replicas = new Gauge({
    name: 'mlscale_cluster_replicas',
    help: 'Serving processes (replicas) listening on this host.',
    registers: [this.registry],
  });
  readonly target = new Gauge({
    name: 'mlscale_cluster_replicas_target',
    help: 'Replicas the primary aims to run (the autoscaler sets it with --replicas auto).',
    registers: [this.registry],
  });
  readonly restarts = new Counter({
    name: 'mlscale_cluster_replica_restarts_total',
    help: 'Replicas that died and were started again.',
    registers: [this.registry],
  });
  readonly decisions = new Counter({
    name: 'mlscale_autoscaler_decisions_total',
    help: 'Autoscaler decisions that changed something, by action.',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
}
