/**
 * The load generator's options once filled and validated (by `loadgen.ts`), as the engine
 * (load-engine.ts) takes them.
 *
 * @module
 */
import type { RateSchedule } from './rate-profile.js';
import type { LoadInterval, LoadProgress } from './load-result.js';

/** Options after defaults and validation; every field present. */
export interface FilledLoadOptions {
  readonly url: URL;
  readonly method: 'GET' | 'POST';
  readonly body: Buffer | null;
  /** Several bodies, each request taking one in turn or at random (`bodyOrder`); null: `body`. */
  readonly bodies: readonly Buffer[] | null;
  readonly bodyOrder: 'round-robin' | 'random';
  /** Seeds the random body order. */
  readonly seed: number;
  /** Open loop: when each request is due, warm-up included; null for closed loop. */
  readonly schedule: RateSchedule | null;
  /** Words for the profile (`ramp 10→200/s over 30s`), or null for a constant rate. */
  readonly profile: string | null;
  /** Called once a second with that second's figures (the time series). */
  readonly onInterval: ((s: LoadInterval) => void) | null;
  /** Flat header list, content-type included when there is a body. */
  readonly headers: readonly string[];
  readonly mode: 'open' | 'closed';
  /** Requests/s (open loop); 0 for closed loop. */
  readonly rate: number;
  readonly durationMs: number;
  readonly connections: number;
  readonly warmupMs: number;
  readonly requestTimeoutMs: number;
  readonly onProgress: ((p: LoadProgress) => void) | null;
  readonly signal: AbortSignal | null;
}
