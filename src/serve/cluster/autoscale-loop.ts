/**
 * The autoscaler in the primary: once a second it samples every serving replica's load over IPC,
 * runs the policy (autoscaler.ts, a pure function) and acts on its decision — more or fewer
 * replicas, more or fewer instances per replica — through the supervisor.
 *
 * After a scale-down the survivors take the freed cores only once the removed replicas have
 * exited, so the cores are never oversubscribed on the way.
 *
 * @module
 */
import type { Logger } from 'pino';
import {
  autoscale,
  initialAutoscalerState,
  type AutoscalerConfig,
  type AutoscalerState,
  type Signals,
} from '../autoscaler.js';
import { kTopic, type ReplicaSample } from './messages.js';
import type { ClusterObserver } from './observer.js';
import type { PrimaryMetrics } from './primary-metrics.js';
import type { Supervisor } from './supervisor.js';

/** Time between two runs of the policy, in ms. */
export const kAutoscaleIntervalMs = 1_000;

/**
 * The host's signals from the replicas' samples: ongoing requests and queue depth summed, and the
 * mean fraction of its share of the cores (cores / replicas sampled) that each replica left idle.
 */
export function signalsOf(
  samples: readonly ReplicaSample[],
  cores: number,
  replicas: number,
  timeMs: number,
): Signals | undefined {
  if (samples.length === 0) return undefined;
  const share = cores / replicas;
  const idle = samples.map((a) => 1 - Math.min(1, a.cpuMs / Math.max(1, a.elapsedMs * share)));
  return {
    timeMs,
    ongoingRequests: samples.reduce((s, a) => s + a.ongoing, 0),
    queueDepth: samples.reduce((s, a) => s + a.queueDepth, 0),
    cpuIdle: idle.reduce((s, v) => s + v, 0) / idle.length,
  };
}

/** What the loop works with. */
export interface AutoscaleLoopOptions {
  readonly policy: AutoscalerConfig;
  readonly supervisor: Supervisor;
  readonly cores: number;
  readonly logger: Logger;
  readonly metrics: PrimaryMetrics;
  readonly observers: readonly ClusterObserver[];
  /** While true (a rolling restart), the loop skips its turn. */
  readonly busy: () => boolean;
  /** Intra-op threads the user fixed, for the log line. */
  readonly fixedThreads?: number;
  /** Intra-op threads of the current layout, for the log line. */
  readonly layoutThreads: () => number | undefined;
}

/** Runs the policy once a second and applies its decisions. */
export class AutoscaleLoop {
  #state: AutoscalerState;
  readonly #o: AutoscaleLoopOptions;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: AutoscaleLoopOptions) {
    this.#o = options;
    this.#state = initialAutoscalerState(options.policy);
  }

  /** The policy's state: the replicas and instances per replica it wants now. */
  get state(): AutoscalerState {
    return this.#state;
  }

  start(): void {
    this.#timer = setInterval(
      () =>
        void this.once().catch((err: unknown) =>
          this.#o.logger.error({ err }, 'autoscaler failed'),
        ),
      kAutoscaleIntervalMs,
    );
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** One turn: sample, decide, act. */
  async once(): Promise<void> {
    const { supervisor, logger } = this.#o;
    if (supervisor.stopping || this.#o.busy()) return;
    const signals = await this.#sample();
    if (!signals) return;
    const before = this.#state;
    const { state, decision } = autoscale(this.#o.policy, before, signals);
    for (const o of this.#o.observers) {
      try {
        o.onDecision?.(decision, {
          replicas: before.replicas,
          instancesPerReplica: before.instancesPerReplica,
        });
      } catch (err) {
        logger.warn(
          { err, observer: o.name },
          'a cluster observer failed on an autoscaler decision',
        );
      }
    }
    this.#state = state;
    this.#o.metrics.hostSaturated.set(decision.hostSaturated ? 1 : 0);
    this.#o.metrics.hostReplicas.set(decision.hostReplicas);
    this.#o.metrics.demandReplicas.set(decision.demandReplicas);
    if (decision.action === 'host-saturated' || decision.action === 'host-has-room') {
      // Nothing to change on this host: the signal is for whatever adds machines.
      this.#o.metrics.decisions.inc({ action: decision.action });
      const line = {
        decision: decision.action,
        replicas: decision.replicas,
        hostReplicas: decision.hostReplicas,
        demandReplicas: decision.demandReplicas,
        signal: decision.signal,
      };
      if (decision.hostSaturated) logger.warn(line, `autoscaler: ${decision.reason}`);
      else logger.info(line, `autoscaler: ${decision.reason}`);
      return;
    }
    if (decision.action === 'hold') {
      // Every second: worth seeing only when asking why nothing scales.
      logger.debug(
        {
          decision: decision.action,
          replicas: decision.replicas,
          instancesPerReplica: decision.instancesPerReplica,
          signal: decision.signal,
        },
        `autoscaler: hold: ${decision.reason}`,
      );
      return;
    }
    this.#o.metrics.decisions.inc({ action: decision.action });
    const target = supervisor.target;
    supervisor.target = decision.replicas;
    logger.info(
      {
        decision: decision.action,
        replicas: decision.replicas,
        instancesPerReplica: decision.instancesPerReplica,
        intraOpThreads: this.#o.layoutThreads() ?? this.#o.fixedThreads,
        signal: decision.signal,
      },
      `autoscaler: ${decision.action}: ${decision.reason}`,
    );
    const why = `autoscaler: ${decision.action}`;
    supervisor.refreshGauges();
    if (supervisor.target < target) {
      // The survivors take the freed cores only once the removed replicas have exited.
      const live = supervisor.live();
      const leaving = live
        .sort((a, b) => b.slot - a.slot)
        .slice(0, live.length - supervisor.target);
      void Promise.all(leaving.map((r) => supervisor.retire(r))).then(() =>
        supervisor.pushLayout(why),
      );
      return;
    }
    // Scaling up: the running replicas shrink to the new share at once (new ones start with it).
    supervisor.pushLayout(why);
    if (supervisor.target > target) supervisor.fillUp();
  }

  async #sample(): Promise<Signals | undefined> {
    const running = this.#o.supervisor.serving();
    if (running.length === 0) return undefined;
    const samples = (
      await Promise.all(
        running.map((r) => r.ipc.request<ReplicaSample>(kTopic.sample).catch(() => undefined)),
      )
    ).filter((a) => a !== undefined);
    return signalsOf(samples, this.#o.cores, running.length, Date.now());
  }
}
