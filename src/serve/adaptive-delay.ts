/**
 * Adaptive batching (`maxQueueDelayMs: 'auto'`): how long to hold a partial batch open, decided from
 * a fitted cost model of the batches and the recent arrival rate, in the spirit of BentoML's
 * adaptive batching (which regresses batch latency on batch size over its last 50 batches).
 *
 * **Cost model.** A batch of r rows takes computeMs ≈ a + b·r: `a` is the fixed cost every batch
 * pays (message round trip to the instance, kernel launch and per-node overhead), `b` the cost per
 * row. `fitBatchCost` fits it by least squares over the last ~50 batches.
 *
 * **The rule** (`decideWait`), evaluated whenever the batch could start (an instance is free)
 * and again after each wait or arrival:
 *
 * 1. Run now if the batch is full, if the next request would likely not fit, or if another instance
 *    besides this one is idle: with capacity to spare, a saved fixed cost shortens no one's wait,
 *    and holding only adds latency. Run now, too, until the cost and the arrival rate are known.
 * 2. Hold while the time already held, plus the fixed cost, exceeds what the requests in hand
 *    would wait for the next one: n·g < a + h, with g the recent mean interval between requests and
 *    h the time this batch has been held. See "Why the held time counts" below.
 * 3. Never hold a batch longer than min(2·a, 10 ms) in all: a wait of up to twice the cost it can
 *    save bounds what a wrong guess costs (the ski-rental bound). Each wait is min(g, budget left):
 *    wait about one arrival, and decide again.
 * 4. Stop at a lull: no request for more than `kLullIntervals` mean intervals means the stream has
 *    paused — in a closed loop of clients, every one of them may be waiting for this very batch.
 *
 * **Why the held time counts.** An instance that holds for w and then runs the batch serves
 * N(w) = n₀ + λ·w rows (λ = 1/g, n₀ the rows when the hold began) in w + a + b·N(w) of its time, so
 * its throughput is X(w) = N / (w + a + b·N). The sign of dX/dw is that of λ·a − n₀, whatever w:
 * if holding pays at the start it pays all the way to a full batch, and if not, not at all. Stated
 * with what is known mid-hold (n = n₀ + λ·h rows after holding h), λ·a > n₀ is n·g < a + h. A rule
 * that compares n·g with a alone forgets the time already invested in this batch and stops
 * half-way, at n = a/g, having paid for part of the hold without taking its whole gain.
 * (With nothing held yet, h = 0 and the rule is the plain trade: the n requests in hand wait g
 * each, the newcomer saves one fixed cost.)
 *
 * This is what pays at saturation, when requests arrive faster than the instance finishes: a
 * closed loop of clients forms batches of about half the clients on one instance (while one batch
 * runs, the other half of the clients are receiving answers and sending again), and waiting for the
 * rest raises throughput — on a machine whose cores the HTTP thread shares with the instance even
 * more, since the instance's idle time during a hold is the HTTP thread's busy time. That is also
 * why λ is the rate seen during holds when that is faster (the batcher measures both): requests
 * come faster while the instance leaves the cores to the HTTP thread.
 * Off saturation (n₀ = 1, g large against a) nothing is held, and rule 3 bounds any hold.
 *
 * @module
 */

/** A fitted batch cost: computeMs ≈ fixedMs + perRowMs · rows. */
export interface BatchCost {
  /** Intercept `a`: what every batch costs, in ms. */
  readonly fixedMs: number;
  /** Slope `b`: what each row adds, in ms. */
  readonly perRowMs: number;
  /** Batches the fit is based on. */
  readonly samples: number;
}

/** One finished batch, for the fit. */
export interface BatchSample {
  readonly rows: number;
  readonly computeMs: number;
}

/** Batches kept for the fit: enough to average out noise, few enough to follow a change in load. */
export const kCostWindow = 50;
/** Batches needed before the fit is trusted. */
export const kMinCostSamples = 3;
/** The longest an adaptive batcher holds a batch open, whatever the fit says, in ms. */
export const kAutoMaxDelayMs = 10;
/** Mean intervals without a request after which a hold stops (rule 4). */
export const kLullIntervals = 4;

/**
 * Least-squares fit of computeMs against rows, clamped to a ≥ 0 and b ≥ 0 (noise can tilt a
 * line fitted to nearly equal batches either way).
 * When every batch had the same size the split between a and b is unknowable; all of it is taken as
 * fixed cost. That overstates `a`, but rule 2 still needs requests to arrive faster than `a`, and
 * rule 3 bounds the wait.
 * @returns the fit, or undefined with fewer than `kMinCostSamples` batches.
 */
export function fitBatchCost(samples: readonly BatchSample[]): BatchCost | undefined {
  const n = samples.length;
  if (n < kMinCostSamples) return undefined;
  let sx = 0;
  let sy = 0;
  for (const s of samples) {
    sx += s.rows;
    sy += s.computeMs;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  let sxxOrigin = 0;
  let sxyOrigin = 0;
  for (const s of samples) {
    sxx += (s.rows - mx) ** 2;
    sxy += (s.rows - mx) * (s.computeMs - my);
    sxxOrigin += s.rows ** 2;
    sxyOrigin += s.rows * s.computeMs;
  }
  if (sxx <= 1e-9 * Math.max(1, sxxOrigin))
    return { fixedMs: Math.max(0, my), perRowMs: 0, samples: n };
  const b = sxy / sxx;
  const a = my - b * mx;
  if (b < 0) return { fixedMs: Math.max(0, my), perRowMs: 0, samples: n };
  if (a < 0) return { fixedMs: 0, perRowMs: Math.max(0, sxyOrigin / sxxOrigin), samples: n };
  return { fixedMs: a, perRowMs: b, samples: n };
}

/** What `decideWait` looks at. Times in ms. */
export interface WaitState {
  /** Rows in the batch so far. */
  readonly rows: number;
  /** Requests in the batch so far. */
  readonly requests: number;
  readonly maxBatchSize: number;
  /** How long this batch has been held open already. */
  readonly heldMs: number;
  /** Idle instances besides the one this batch would take. */
  readonly spareInstances: number;
  /** The fitted batch cost; undefined until enough batches ran. */
  readonly cost?: BatchCost | undefined;
  /**
   * Recent mean time between requests; undefined until two arrived. The batcher gives the shorter
   * of the overall interval and the one seen while batches were held open (the rate a hold sees).
   */
  readonly arrivalIntervalMs?: number | undefined;
  /** Recent mean rows per request; 1 if unknown. */
  readonly meanRequestRows?: number | undefined;
  /** Time since the last request arrived; unknown means no lull is detected. */
  readonly sinceLastArrivalMs?: number | undefined;
  /** Upper bound on the total hold; `kAutoMaxDelayMs` by default. */
  readonly maxDelayMs?: number;
}

/**
 * How much longer to hold a partial batch open for more requests (see the module comment).
 * A pure function of `state`, so it is tested without timers.
 * @returns ms to wait before deciding again; 0 means run the batch now.
 * @example decideWait({ rows: 1, requests: 1, maxBatchSize: 64, heldMs: 0, spareInstances: 0,
 *   cost: { fixedMs: 2, perRowMs: 0.01, samples: 50 }, arrivalIntervalMs: 0.5 }) // 0.5
 */
export function decideWait(state: WaitState): number {
  const { rows, requests, maxBatchSize, heldMs, spareInstances, cost, arrivalIntervalMs } = state;
  if (rows >= maxBatchSize || rows + (state.meanRequestRows ?? 1) > maxBatchSize) return 0;
  if (spareInstances > 0) return 0;
  if (cost === undefined || arrivalIntervalMs === undefined || !(arrivalIntervalMs >= 0)) return 0;
  const a = cost.fixedMs;
  const budget = Math.min(2 * a, state.maxDelayMs ?? kAutoMaxDelayMs) - heldMs;
  if (budget <= 0) return 0;
  if (
    heldMs > 0 &&
    state.sinceLastArrivalMs !== undefined &&
    state.sinceLastArrivalMs > kLullIntervals * arrivalIntervalMs
  )
    return 0;
  if (requests * arrivalIntervalMs >= a + heldMs) return 0;
  return Math.min(arrivalIntervalMs, budget);
}

/**
 * The recent arrival rate: the last `capacity` arrival times, with the mean interval measured up to
 * now, so that the estimate grows during a lull instead of remembering the last burst.
 */
export class ArrivalRate {
  readonly #times: number[];
  readonly #rows: number[];
  #next = 0;
  #count = 0;
  /** The rows of the recorded requests, summed as they come and go: read at every decision. */
  #rowSum = 0;

  constructor(capacity = 32) {
    this.#times = new Array<number>(capacity).fill(0);
    this.#rows = new Array<number>(capacity).fill(0);
  }

  /** Records a request of `rows` rows arriving at `now` (ms). */
  record(now: number, rows: number): void {
    this.#times[this.#next] = now;
    if (this.#count === this.#times.length) this.#rowSum -= this.#rows[this.#next]!;
    this.#rows[this.#next] = rows;
    this.#rowSum += rows;
    this.#next = (this.#next + 1) % this.#times.length;
    this.#count = Math.min(this.#count + 1, this.#times.length);
  }

  /** Mean ms between requests, counting the time since the last one; undefined before two arrived. */
  intervalMs(now: number): number | undefined {
    if (this.#count < 2) return undefined;
    const oldest = this.#times[this.#count < this.#times.length ? 0 : this.#next]!;
    return Math.max(0, now - oldest) / (this.#count - 1);
  }

  /** Ms since the last request arrived; undefined before any arrived. */
  sinceLastMs(now: number): number | undefined {
    if (this.#count === 0) return undefined;
    const last = this.#times[(this.#next + this.#times.length - 1) % this.#times.length]!;
    return Math.max(0, now - last);
  }

  /** Mean rows per recent request; undefined before any arrived. */
  meanRows(): number | undefined {
    if (this.#count === 0) return undefined;
    return this.#rowSum / this.#count;
  }
}
