/**
 * The dashboard with replicas (`mlscale serve --replicas`): requests land on any replica, but the
 * fleet's view — every replica's activity merged, replicas over time, the autoscaler's decisions —
 * lives in the primary. The primary samples the replicas' metrics merged (as for GET /metrics,
 * prom-client's AggregatorRegistry over IPC) and keeps the decisions; the replica answering
 * /dashboard/api/* asks the primary for that snapshot over IPC.
 *
 * @module
 */
import { DecisionLog } from './decision-log.js';
import { MetricsSampler, type MetricsJson } from './sampler.js';
import type { ActivitySnapshot } from './types.js';

/** How long a replica waits for the primary's snapshot, in ms. */
const kAskTimeoutMs = 4_000;

/** The primary's side: a sampler over the merged metrics, and the decision log. */
export class FleetDashboard {
  readonly decisions = new DecisionLog();
  readonly #sampler: MetricsSampler;

  /**
   * @param collect - every listening replica's metrics, merged.
   * @param replicas - replicas listening now.
   */
  constructor(collect: () => Promise<MetricsJson>, replicas: () => number) {
    this.#sampler = new MetricsSampler({ collect, replicas, decisions: () => this.decisions.list() });
  }

  start(): this {
    this.#sampler.start();
    return this;
  }

  stop(): void {
    this.#sampler.stop();
  }

  /** The activity after `since`, as a replica asked for it. */
  snapshot(since: number): ActivitySnapshot {
    return this.#sampler.snapshot(since);
  }
}

/** A replica's request for the fleet snapshot, and the primary's answer. */
export type DashboardRequest = { mlscale: 'dashboard-request'; id: number; since: number };
export type DashboardAnswer = { mlscale: 'dashboard'; id: number; snapshot?: ActivitySnapshot; error?: string };

/** The replica's side: asks the primary over the IPC channel and matches the answers. */
export class PrimaryDashboardClient {
  readonly #waiting = new Map<number, { resolve: (s: ActivitySnapshot) => void; reject: (e: Error) => void }>();
  readonly #send: (m: DashboardRequest) => void;
  #nextId = 1;

  /** @param send - sends a message to the primary (`process.send`). */
  constructor(send: (m: DashboardRequest) => void) {
    this.#send = send;
  }

  /** The fleet's activity after `since`; rejects when the primary does not answer in time. */
  activity(since: number): Promise<ActivitySnapshot> {
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error('the primary did not answer the dashboard request'));
      }, kAskTimeoutMs);
      this.#waiting.set(id, {
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      try {
        this.#send({ mlscale: 'dashboard-request', id, since });
      } catch (err) {
        this.#waiting.get(id)?.reject(err as Error);
        this.#waiting.delete(id);
      }
    });
  }

  /** Hands the primary's answer to the request waiting for it. */
  answer(message: DashboardAnswer): void {
    const waiter = this.#waiting.get(message.id);
    this.#waiting.delete(message.id);
    if (message.snapshot) waiter?.resolve(message.snapshot);
    else waiter?.reject(new Error(message.error ?? 'no dashboard snapshot'));
  }
}
