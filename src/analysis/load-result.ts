/**
 * What the load generator reports: its live progress and a run's result. In a file of their own,
 * so that the engine (`load-engine.ts`) and its front (`loadgen.ts`) both import them without
 * importing each other.
 *
 * @module
 */
import type { LatencySummaryMs } from './sweep-schema.js';

/** The live figures `onProgress` gets, about once a second. */
export interface LoadProgress {
  /** Seconds since the start, warm-up included. */
  elapsedS: number;
  /** Requests sent and answered (or failed) so far, warm-up included. */
  sent: number;
  completed: number;
  errors: number;
  /** 2xx answers in the last interval (per second). */
  currentRate: number;
  /** p99 latency of the 2xx answers in the last interval (ms). */
  p99Ms: number;
}

/**
 * One second of a run's time series (`onInterval`, `mlscale load --timeseries`): what was
 * offered, sent and answered in it. Latencies are of the 2xx answers received in the second.
 */
export interface LoadInterval {
  /** 1, 2, ... from the start of the run (warm-up included). */
  second: number;
  /** Seconds since the start at the interval's end. */
  t: number;
  /** Overlaps the measured window (false for warm-up seconds). */
  measured: boolean;
  /** Open loop: requests scheduled in the interval and the offered rate at its end; null closed. */
  offered: number | null;
  offeredRate: number | null;
  /** Requests sent, 2xx answers and errors in the interval. */
  sent: number;
  ok: number;
  errors: number;
  /** 2xx answers per second over the interval. */
  okRate: number;
  /** Requests sent and not answered yet at the interval's end. */
  inflight: number;
  /** null when no 2xx answer came in the interval. */
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/** What a run measured, over the measured window (warm-up excluded). */
export interface LoadResult {
  mode: 'open' | 'closed';
  /** Requests/s offered (open loop; with a profile, its mean over the window); null for closed loop. */
  offeredRate: number | null;
  /** The rate profile in words (`ramp 10→200/s over 30s`), when one was given. */
  profile?: string;
  /** 2xx responses received per second during the measured window. */
  achievedRate: number;
  /** Requests actually sent per second during the measured window. */
  sentRate: number;
  /** Length of the measured window (s). */
  durationS: number;
  /** Requests sent in the window; each is counted once as ok or as an error. */
  requests: number;
  ok: number;
  errors: number;
  /** Errors by kind: `status 503`, `ECONNREFUSED`, `timeout`, `socket closed`, … */
  errorsByKind: Record<string, number>;
  /** Of 2xx responses only; open loop: from the scheduled send time. */
  latencyMs: LatencySummaryMs;
  /** Open loop: the generator could not send at the offered rate, so the run says nothing of the server. */
  generatorBound: boolean;
  /** Why, in words: "offered 50000/s, achieved 21000/s, generator-bound"; null when nothing to say. */
  generatorNote: string | null;
}
