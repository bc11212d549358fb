/**
 * What the dashboard's API answers: one second of the server's activity (a sample), the fleet's
 * autoscaler decisions, and the snapshot that the page starts from.
 *
 * @module
 */

/** One sampling interval of the server's (or, with replicas, the whole host's) activity. */
export interface DashboardSample {
  /** End of the interval, ms since the epoch. */
  readonly t: number;
  /** Inference requests finished per second, every outcome. */
  readonly rps: number;
  /** Latency quantiles of the requests finished in the interval, in ms; null without requests. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** Requests per second that failed (client errors, timeouts, server errors), shed excluded. */
  readonly errors: number;
  /** Requests per second shed with 503 because a queue was full. */
  readonly shed: number;
  /** Requests waiting in the model queues at the end of the interval. */
  readonly queueDepth: number;
  /** Requests accepted and not yet answered. */
  readonly inFlight: number;
  /** Mean rows per batch run in the interval; null without batches. */
  readonly meanBatch: number | null;
  /** onnxruntime instances across models (and replicas). */
  readonly instances: number;
  /** Replicas listening; null when the server runs as one process. */
  readonly replicas: number | null;
}

/** An autoscaler decision that changed something, as the fleet view marks it. */
export interface DashboardDecision {
  readonly t: number;
  readonly action: string;
  readonly from: { readonly replicas: number; readonly instancesPerReplica: number };
  readonly to: { readonly replicas: number; readonly instancesPerReplica: number };
  /** The signal behind it, in words (e.g. "ongoing 12.0 per replica, target 4"). */
  readonly signal: string;
  readonly reason: string;
}

/** Batches by size over the last minute: `le` is the bucket's upper bound in rows. */
export interface BatchSizeBucket {
  readonly le: string;
  readonly count: number;
}

/** The activity part of a snapshot: what the sampler (local, or the primary's) holds. */
export interface ActivitySnapshot {
  readonly intervalMs: number;
  /** 'single' for one process, 'replicas' when a primary runs replicas. */
  readonly mode: 'single' | 'replicas';
  readonly samples: readonly DashboardSample[];
  readonly batchSizes: readonly BatchSizeBucket[];
  readonly decisions: readonly DashboardDecision[];
}

/** A model version in the repository, with its readiness. */
export interface DashboardModel {
  readonly name: string;
  readonly version: string | null;
  readonly state: string;
  readonly reason: string;
}

/** `GET /dashboard/api/state`. */
export interface DashboardState extends ActivitySnapshot {
  readonly now: number;
  readonly models: readonly DashboardModel[];
  /** Whether the page may offer load/unload, and whether they need the admin token. */
  readonly admin: {
    readonly enabled: boolean;
    readonly tokenRequired: boolean;
    readonly why?: string;
  };
  /** Scaling reports (`mlscale sweep`) to link, when the server was given `--reports`. */
  readonly reports: readonly ReportLink[];
}

/** A scaling report written by `mlscale sweep`. */
export interface ReportLink {
  readonly name: string;
  readonly href: string;
  /** Last change of report.html, ms since the epoch. */
  readonly modifiedAt: number;
}
