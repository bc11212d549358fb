/**
 * The messages between the replicas' primary and its replicas, in one place. Requests that wait
 * for an answer go through `IpcRequests` (util/ipc-request.ts) on the topics below; the others are
 * one-way orders and reports.
 *
 * @module
 */
import type { Layout } from './layout.js';

/** The primary's orders to a replica. */
export type ToReplica =
  /** Drain and exit; `now` cuts what is left of the drain. */
  | { readonly mlscale: 'shutdown'; readonly now?: boolean }
  /** A warm spare starts listening. */
  | { readonly mlscale: 'activate' }
  /** Resize every model's instances in place. */
  | ({ readonly mlscale: 'resize' } & Layout);

/** A replica's reports to the primary. */
export type ToPrimary =
  /** A warm spare has loaded its models. */
  { readonly mlscale: 'loaded' };

/** Request topics: the primary asks a replica for its metrics (`collect`) or its load (`sample`); a replica asks the primary for the merged metrics text (`metrics`). */
export const kTopic = { collect: 'collect', sample: 'sample', metrics: 'metrics' } as const;

/** A replica's answer to `sample`: its load since the last sample. */
export interface ReplicaSample {
  /** Requests accepted and not yet answered. */
  readonly ongoing: number;
  /** Requests waiting in the model queues. */
  readonly queueDepth: number;
  /** CPU time the process used since the last sample, in ms. */
  readonly cpuMs: number;
  /** Wall time since the last sample, in ms. */
  readonly elapsedMs: number;
}

/** Whether a message is one of ours with this `mlscale` type. */
export function isMessage<T extends { readonly mlscale: string }>(
  message: unknown,
  type: T['mlscale'],
): message is T {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { mlscale?: unknown }).mlscale === type
  );
}
