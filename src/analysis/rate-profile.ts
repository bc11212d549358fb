/**
 * Open-loop rate profiles: how many requests per second the load generator offers over time.
 *
 * A profile is a list of stages, each a linear ramp of the rate from one value to another over a
 * duration (a constant rate is a ramp from a value to itself), as k6's `stages` are. The text
 * form (`mlscale load --profile`, repeatable, stages in order) has four shapes:
 *
 *   const:RATE:DURATION        RATE requests/s for DURATION                 const:100:30s
 *   ramp:FROM..TO:DURATION     linear from FROM to TO requests/s            ramp:10..200:1m
 *   steps:R1,R2,...:DURATION   each rate held for DURATION, in turn         steps:50,100,200:10s
 *   spike:BASE..PEAK:DURATION  BASE for 40% of DURATION, PEAK for the next  spike:50..500:30s
 *                              20%, BASE again for the last 40%
 *
 * Request i (from 0) is scheduled at the time t where the number of requests due so far,
 * N(t) = ∫₀ᵗ rate, reaches i: the arrivals follow the rate exactly, with no drift, whatever the
 * timer's granularity (the engine sends what is due at each tick, charged from its scheduled time).
 *
 * @module
 */
import { InvalidOptionError } from '../errors.js';
import { formatDurationMs, parseDurationMs } from '../util/duration.js';

/** One stage: the rate goes linearly from `fromRate` to `toRate` (requests/s) over `durationMs`. */
export interface RateStage {
  readonly fromRate: number;
  readonly toRate: number;
  readonly durationMs: number;
}

/** The forms `--profile` accepts, for error messages. */
export const kProfileForms =
  'const:RATE:DURATION, ramp:FROM..TO:DURATION, steps:R1,R2,...:DURATION or spike:BASE..PEAK:DURATION (e.g. ramp:10..200:30s)';

/** The highest rate a profile may ask for (requests/s), as `--rate`. */
const kMaxRate = 10_000_000;

/**
 * Parses one `--profile` value into its stages; `InvalidOptionError` naming `flag`, the accepted
 * forms and what was given otherwise.
 */
export function parseProfile(text: string, flag = '--profile'): RateStage[] {
  const fail = (why: string): never => {
    throw new InvalidOptionError(
      `${flag} ${JSON.stringify(text)}: ${why}; expected ${kProfileForms}`,
    );
  };
  const parts = text.trim().split(':');
  if (parts.length !== 3) fail('not SHAPE:RATES:DURATION');
  const [shape, rates, durationText] = parts as [string, string, string];
  const durationMs = parseDurationMs(durationText);
  if (durationMs === undefined || durationMs <= 0)
    fail(`the duration ${JSON.stringify(durationText)} is not one such as 500ms, 30s or 2m`);
  const rate = (t: string): number => {
    const v = t.trim() === '' ? NaN : Number(t);
    if (!Number.isFinite(v) || v < 0 || v > kMaxRate)
      fail(`the rate ${JSON.stringify(t)} is not a number of requests/s from 0 to ${kMaxRate}`);
    return v;
  };
  const pair = (): [number, number] => {
    const ends = rates.split('..');
    if (ends.length !== 2) fail(`${shape} takes FROM..TO, got ${JSON.stringify(rates)}`);
    return [rate(ends[0]!), rate(ends[1]!)];
  };
  const d = durationMs!;
  switch (shape.toLowerCase()) {
    case 'const': {
      const r = rate(rates);
      return [{ fromRate: r, toRate: r, durationMs: d }];
    }
    case 'ramp': {
      const [from, to] = pair();
      return [{ fromRate: from, toRate: to, durationMs: d }];
    }
    case 'steps': {
      const list = rates.split(',').map(rate);
      return list.map((r) => ({ fromRate: r, toRate: r, durationMs: d }));
    }
    case 'spike': {
      const [base, peak] = pair();
      return [
        { fromRate: base, toRate: base, durationMs: d * 0.4 },
        { fromRate: peak, toRate: peak, durationMs: d * 0.2 },
        { fromRate: base, toRate: base, durationMs: d * 0.4 },
      ];
    }
    default:
      return fail(`unknown shape ${JSON.stringify(shape)}`);
  }
}

/** A profile in words: `ramp 10→200/s over 30s, then 200/s for 10s`. */
export function describeProfile(stages: readonly RateStage[]): string {
  return stages
    .map((s) =>
      s.fromRate === s.toRate
        ? `${s.fromRate}/s for ${formatDurationMs(Math.round(s.durationMs))}`
        : `ramp ${s.fromRate}→${s.toRate}/s over ${formatDurationMs(Math.round(s.durationMs))}`,
    )
    .join(', then ');
}

/** When each request of a profile is due. */
export class RateSchedule {
  readonly #stages: readonly RateStage[];
  /** Requests due before each stage starts (cumulative N at its start). */
  readonly #countAt: readonly number[];
  readonly #startMs: readonly number[];
  /** Length of the whole profile (ms). */
  readonly durationMs: number;
  /** Requests the profile sends: those scheduled before its end. */
  readonly total: number;

  constructor(stages: readonly RateStage[]) {
    if (stages.length === 0)
      throw new InvalidOptionError('a rate profile needs at least one stage');
    this.#stages = stages;
    const countAt: number[] = [];
    const startMs: number[] = [];
    let n = 0;
    let t = 0;
    for (const s of stages) {
      countAt.push(n);
      startMs.push(t);
      n += ((s.fromRate + s.toRate) / 2) * (s.durationMs / 1000);
      t += s.durationMs;
    }
    this.#countAt = countAt;
    this.#startMs = startMs;
    this.durationMs = t;
    // Request i is sent when N(t) reaches i, for i = 0, 1, ... while that is before the end.
    this.total = Math.max(0, Math.ceil(n - 1e-9));
  }

  /** A constant `rate` for `durationMs`. */
  static constant(rate: number, durationMs: number): RateSchedule {
    return new RateSchedule([{ fromRate: rate, toRate: rate, durationMs }]);
  }

  /** Requests due by `ms` from the start (N(t)), as a real number. */
  dueAt(ms: number): number {
    if (ms <= 0) return 0;
    for (let k = this.#stages.length - 1; k >= 0; k--) {
      if (ms < this.#startMs[k]!) continue;
      const s = this.#stages[k]!;
      const tau = Math.min(ms - this.#startMs[k]!, s.durationMs) / 1000;
      const slope = (s.toRate - s.fromRate) / (s.durationMs / 1000);
      return this.#countAt[k]! + s.fromRate * tau + (slope / 2) * tau * tau;
    }
    return 0;
  }

  /** How many requests have been due by `ms` from the start: those with `timeOf(i) <= ms`. */
  countBy(ms: number): number {
    if (ms < 0) return 0;
    return Math.min(this.total, Math.floor(this.dueAt(ms) + 1e-9) + 1);
  }

  /** How many requests are due strictly before `ms` from the start: those with `timeOf(i) < ms`. */
  countBefore(ms: number): number {
    return Math.min(this.total, Math.max(0, Math.ceil(this.dueAt(ms) - 1e-9)));
  }

  /** When request `i` (from 0) is due, in ms from the start. */
  timeOf(i: number): number {
    // The last stage whose start count is at most i holds it (stages with no requests are skipped).
    let k = this.#stages.length - 1;
    while (k > 0 && this.#countAt[k]! > i) k--;
    while (k < this.#stages.length - 1 && this.#countAt[k + 1]! <= i) k++;
    const s = this.#stages[k]!;
    const m = i - this.#countAt[k]!;
    if (m <= 0) return this.#startMs[k]!;
    const a = s.fromRate;
    const c = (s.toRate - s.fromRate) / (s.durationMs / 1000) / 2;
    // c τ² + a τ = m, in the form that is stable for c of either sign and for a = 0.
    const root = a * a + 4 * c * m;
    const tau = root <= 0 ? s.durationMs / 1000 : (2 * m) / (a + Math.sqrt(root));
    return this.#startMs[k]! + Math.min(tau * 1000, s.durationMs);
  }

  /** The offered rate (requests/s) at `ms` from the start. */
  rateAt(ms: number): number {
    for (let k = this.#stages.length - 1; k >= 0; k--) {
      if (ms < this.#startMs[k]!) continue;
      const s = this.#stages[k]!;
      const f = Math.min(1, (ms - this.#startMs[k]!) / s.durationMs);
      return s.fromRate + (s.toRate - s.fromRate) * f;
    }
    return this.#stages[0]!.fromRate;
  }
}
