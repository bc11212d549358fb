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
  readonly hostSaturated = new Gauge({
    name: 'mlscale_autoscaler_host_saturated',
    help: 'With --replicas auto: 1 while this host runs every replica it can (its cores, or the measured scaling peak) and the load asks for more — add machines; else 0.',
    registers: [this.registry],
  });
  readonly hostReplicas = new Gauge({
    name: 'mlscale_autoscaler_host_replicas',
    help: 'With --replicas auto: the most replicas this host runs (cores ÷ (threads × instances), or the measured scaling peak).',
    registers: [this.registry],
  });
  readonly demandReplicas = new Gauge({
    name: 'mlscale_autoscaler_demand_replicas',
    help: 'With --replicas auto: replicas the load asks for (smoothed ongoing requests ÷ target), not bounded by this host.',
    registers: [this.registry],
  });
  readonly decisions = new Counter({
    name: 'mlscale_autoscaler_decisions_total',
    help: 'Autoscaler decisions that changed something, by action.',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
}
