/**
 * The autoscaler's decisions that changed something, kept for the dashboard's fleet view: the
 * last `capacity`, each with its time, the signal behind it, and the counts before and after.
 *
 * @module
 */
import type { AutoscalerDecision } from '../serve/autoscaler.js';
import type { DashboardDecision } from './types.js';

/** A ring buffer of autoscaler decisions. */
export class DecisionLog {
  readonly #capacity: number;
  readonly #entries: DashboardDecision[] = [];

  /** @param capacity - decisions kept; older ones are dropped. */
  constructor(capacity = 100) {
    this.#capacity = capacity;
  }

  /** Records a decision taken when the fleet ran `from`. Holds are not worth a mark: they are skipped. */
  record(
    decision: AutoscalerDecision,
    from: { replicas: number; instancesPerReplica: number },
    t = Date.now(),
  ): void {
    if (decision.action === 'hold') return;
    const s = decision.signal;
    this.#entries.push({
      t,
      action: decision.action,
      from: { ...from },
      to: { replicas: decision.replicas, instancesPerReplica: decision.instancesPerReplica },
      signal: `ongoing ${s.smoothedOngoing.toFixed(1)} (${s.ongoingPerReplica.toFixed(1)} per replica), queue ${s.queueDepth}, CPU idle ${Math.round(s.cpuIdle * 100)}%`,
      reason: decision.reason,
    });
    if (this.#entries.length > this.#capacity) this.#entries.shift();
  }

  /** The decisions kept, oldest first. */
  list(): readonly DashboardDecision[] {
    return [...this.#entries];
  }
}
