/**
 * The dynamic batcher, one per model version: merges concurrent requests into batches for the
 * model's instances, with Triton's semantics.
 *
 * - Requests queue. When an instance is free, the batcher takes the oldest request and the
 *   following queued requests with the same key (requests that may share a batch) up to
 *   `maxBatchSize` rows, in arrival order. A batch that is not full waits until its oldest request
 *   has waited `maxQueueDelayMs` (Triton's `max_queue_delay_microseconds`) or until it fills.
 *   `maxBatchSize` 0 runs one request per batch; use it for models without a dynamic first
 *   dimension.
 * - `maxQueueDelayMs: 'auto'` decides the hold from a fitted cost of the batches and the arrival
 *   rate instead; see `adaptive-delay.ts` for the rule.
 * - Load shedding: a request that would take the queue past `maxQueue` is rejected at once with
 *   QueueFullError. A request whose total time passes `requestTimeoutMs` rejects with
 *   RequestTimeoutError; still queued, it is removed and never runs. An aborted signal (the client
 *   went away) removes it the same way.
 * - The runner answers each request of a batch on its own: a result, or an error for that request
 *   alone (the model server's instances decode each request before they merge any, so a bad one is
 *   answered 400 and never joins the others). A batch that fails as a whole rejects every request
 *   of it with InstanceFailedError.
 *
 * The batcher does not look inside the work: what a request is, how requests merge, and how the
 * answers split is the runner's (see `instances/infer-batch.ts` for the model server's). It decides
 * only when a batch starts and which requests it holds.
 *
 * Why one file of more than 400 lines: it is one class and one state machine (lanes, holds, batch
 * start and answers) whose steps share its private fields; its deadline queue is in
 * deadline-queue.ts and the adaptive delay's rule in adaptive-delay.ts.
 *
 * @module
 */
import {
  InstanceFailedError,
  QueueFullError,
  RequestTimeoutError,
  ShuttingDownError,
} from '../errors.js';
import { DeadlineQueue } from './deadline-queue.js';
import {
  ArrivalRate,
  decideWait,
  fitBatchCost,
  kCostWindow,
  type BatchCost,
  type BatchSample,
} from './adaptive-delay.js';

/** What the batcher needs of a request. */
export interface BatchWork {
  /**
   * Rows the request holds, or the best estimate of them when they are known only once the runner
   * has decoded it (the runner then reports the batch's real rows in `BatchRun.rows`).
   */
  readonly rows: number;
  /** Requests with equal keys may share a batch. */
  readonly key: string;
}

/** What a runner answers for one batch. */
export interface BatchRun<R> {
  /** One entry per request, in the order given: its result, or an Error that rejects it alone. */
  readonly results: readonly (R | Error)[];
  /** Rows the batch really held, when the requests' `rows` were estimates. */
  readonly rows?: number;
  /**
   * How long the instance itself worked on the batch, in ms, when the runner knows it. Without it
   * the batcher counts from the start to the answer, which also counts how long the answer waited
   * for this thread's event loop: under load, as long as a light batch's work.
   */
  readonly computeMs?: number;
}

/** Runs batches on a model's instances. */
export interface BatchRunner<W extends BatchWork, R> {
  /**
   * Runs one batch and answers each request of it. Rejects when the batch fails as a whole.
   * `R` must not be an Error: an Error in `results` is a request's failure.
   */
  run(works: readonly W[]): Promise<BatchRun<R>>;
  /** Instances that could start a batch now. */
  readonly idle: number;
  /** Calls `listener` whenever an instance becomes free. */
  onIdle(listener: () => void): void;
}

/** Options of a `DynamicBatcher`. */
export interface DynamicBatcherOptions {
  /** Largest merged batch, in rows; 0 runs each request alone. */
  readonly maxBatchSize: number;
  /** How long a partial batch may wait for more requests, in ms; `'auto'` decides it from the measured cost. */
  readonly maxQueueDelayMs: number | 'auto';
  /** Requests that may wait in the queue; more are shed with QueueFullError. */
  readonly maxQueue: number;
  /** A request's whole time budget, queueing and compute, in ms. */
  readonly requestTimeoutMs: number;
}

/** What `onBatch` reports for each batch that ran successfully. */
export interface BatchInfo {
  /** Rows in the batch. */
  readonly size: number;
  /** Requests merged into it. */
  readonly requests: number;
  /** How long each request waited in the queue before the batch started, in ms. */
  readonly queueWaitMs: readonly number[];
  /** How long the instance took, in ms: its own time when the runner reports it, else the round trip. */
  readonly computeMs: number;
  /** How long the batcher deliberately held the batch open for more requests, in ms. */
  readonly delayMs: number;
  /** The batch cost fitted over recent batches (this one included), once there are enough. */
  readonly cost?: BatchCost;
}

/** Hooks, for metrics. A hook that throws is ignored. */
export interface DynamicBatcherHooks {
  onBatch?(info: BatchInfo): void;
}

/** `stats()` of a batcher. */
export interface DynamicBatcherStats {
  /** Requests queued. */
  readonly depth: number;
  /** Requests accepted and not yet answered (queued or running). */
  readonly inFlight: number;
  /** Batches running on instances. */
  readonly runningBatches: number;
  /** Batches run, failed ones included. */
  readonly batches: number;
  readonly failedBatches: number;
  /** Requests shed because the queue was full. */
  readonly shed: number;
  /** Requests that timed out. */
  readonly timedOut: number;
  /** The hold chosen for the last batch, in ms. */
  readonly lastDelayMs: number;
  /** The fitted batch cost: computeMs ≈ fixedMs + perRowMs · rows. */
  readonly cost?: BatchCost;
  /** Recent mean time between requests, in ms. */
  readonly arrivalIntervalMs?: number;
  /** Mean time between requests while batches were held open (a moving average over holds), in ms. */
  readonly holdArrivalIntervalMs?: number;
}

interface Pending<W, R> {
  /** Dropped once answered and out of its batch: it may wait in the deadline queue a while. */
  work: W | undefined;
  readonly rows: number;
  readonly key: string;
  readonly seq: number;
  readonly enqueuedAt: number;
  state: 'queued' | 'running' | 'done';
  readonly resolve: (result: R) => void;
  readonly reject: (err: unknown) => void;
  readonly signal: CancelSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * What `submit` needs of a cancellation signal: the part of AbortSignal it uses, so an AbortSignal
 * works, and so does a lighter object (the server's per-connection one: an AbortController per
 * request measured about 1.5% of the HTTP thread's time under load).
 */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** Queued requests of one key, oldest first. Removed requests stay until skipped (lazy deletion). */
interface Lane<W, R> {
  readonly key: string;
  items: Pending<W, R>[];
  head: number;
  /** Queued requests, and their rows: whether the lane holds a full batch, without a walk. */
  live: number;
  rows: number;
  /** When the batcher first chose to hold this lane's batch open with an instance free. */
  holdSince?: number;
  /** Requests that joined the lane while it was held, and when the last of them came. */
  holdArrivals: number;
  holdLastArrival: number;
}

/** Weight of the newest hold in the arrival rate during holds (an exponential moving average). */
const kHoldRateWeight = 0.3;

/** Merges concurrent requests for one model version into batches for its instances. */
export class DynamicBatcher<W extends BatchWork, R> {
  readonly #runner: BatchRunner<W, R>;
  readonly #options: Readonly<DynamicBatcherOptions>;
  readonly #hooks: DynamicBatcherHooks;
  readonly #lanes = new Map<string, Lane<W, R>>();
  readonly #arrivals = new ArrivalRate();
  readonly #samples: BatchSample[] = [];
  #cost?: BatchCost;
  /** Requests per ms arriving while batches were held open; undefined before the first hold. */
  #holdRate?: number;
  #seq = 0;
  #depth = 0;
  #inFlight = 0;
  #runningBatches = 0;
  #batches = 0;
  #failedBatches = 0;
  #shed = 0;
  #timedOut = 0;
  #lastDelayMs = 0;
  /** The timer that pumps again when a held batch's wait is over, and when it fires. */
  #wake?: NodeJS.Timeout;
  #wakeAt = Infinity;
  /** Unanswered requests in deadline order, with one timer for the oldest. */
  readonly #deadlines: DeadlineQueue<Pending<W, R>>;
  #pumping = false;
  #pumpAgain = false;
  #closing = false;
  #closed?: Promise<void>;
  #settledAll?: () => void;

  /**
   * @param runner The model's instances; the batcher starts a batch only when `runner.idle > 0`.
   * @param options Batching limits, validated here (TypeError on a bad value).
   * @param hooks `onBatch` is called after each successful batch.
   */
  constructor(
    runner: BatchRunner<W, R>,
    options: DynamicBatcherOptions,
    hooks: DynamicBatcherHooks = {},
  ) {
    validateOptions(options);
    if (hooks.onBatch !== undefined && typeof hooks.onBatch !== 'function') {
      throw new TypeError(`hooks.onBatch must be a function, got ${typeof hooks.onBatch}`);
    }
    this.#runner = runner;
    this.#options = Object.freeze({ ...options });
    this.#deadlines = new DeadlineQueue(options.requestTimeoutMs, (p) => this.#timeout(p));
    this.#hooks = hooks;
    runner.onIdle(() => this.#pump());
  }

  /** Requests waiting in the queue. */
  get depth(): number {
    return this.#depth;
  }

  /** Requests accepted and not yet answered: queued or running. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Queues one request.
   * Takes ownership of the work: the runner may transfer its buffers to an instance thread and
   * leave them detached, so do not reuse them afterwards.
   * @param signal Aborting it (the client disconnected) removes the request if it is still queued.
   * @returns the request's result, as the runner answered it.
   * @throws the Error the runner answered for this request alone (rejects).
   * @throws {QueueFullError} (rejects) at once when the queue is full.
   * @throws {RequestTimeoutError} (rejects) after `requestTimeoutMs`.
   * @throws {InstanceFailedError} (rejects) when the batch it was part of failed.
   * @throws {ShuttingDownError} (rejects) after `close()`.
   */
  submit(work: W, signal?: CancelSignal): Promise<R> {
    if (this.#closing)
      return Promise.reject(
        new ShuttingDownError('the model is shutting down and takes no new requests'),
      );
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#depth >= this.#options.maxQueue) {
      this.#shed++;
      return Promise.reject(
        new QueueFullError(
          `the model's queue is full (${this.#options.maxQueue} requests waiting); retry later`,
        ),
      );
    }
    const now = performance.now();
    this.#arrivals.record(now, work.rows);
    return new Promise<R>((resolve, reject) => {
      const key = this.#options.maxBatchSize > 0 ? work.key : '';
      // Every field set here, none added later: one object shape for all requests.
      const p: Pending<W, R> = {
        work,
        rows: work.rows,
        key,
        seq: this.#seq++,
        enqueuedAt: now,
        state: 'queued',
        resolve,
        reject,
        signal,
        onAbort: undefined,
      };
      this.#deadlines.push(p);
      if (signal) {
        p.onAbort = () => this.#settle(p, () => reject(signal.reason));
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
      let lane = this.#lanes.get(key);
      if (!lane) {
        lane = { key, items: [], head: 0, live: 0, rows: 0, holdArrivals: 0, holdLastArrival: 0 };
        this.#lanes.set(key, lane);
      }
      if (lane.holdSince !== undefined) {
        lane.holdArrivals++;
        lane.holdLastArrival = now;
      }
      lane.items.push(p);
      lane.live++;
      lane.rows += p.rows;
      this.#depth++;
      this.#inFlight++;
      this.#pump();
    });
  }

  /** Counters, the last hold and the fitted cost. */
  stats(): DynamicBatcherStats {
    const interval = this.#arrivals.intervalMs(performance.now());
    return {
      depth: this.#depth,
      inFlight: this.#inFlight,
      runningBatches: this.#runningBatches,
      batches: this.#batches,
      failedBatches: this.#failedBatches,
      shed: this.#shed,
      timedOut: this.#timedOut,
      lastDelayMs: this.#lastDelayMs,
      ...(this.#cost ? { cost: this.#cost } : {}),
      ...(interval === undefined ? {} : { arrivalIntervalMs: interval }),
      ...(this.#holdRate !== undefined && this.#holdRate > 0
        ? { holdArrivalIntervalMs: 1 / this.#holdRate }
        : {}),
    };
  }

  /**
   * Stops taking requests. With `drain`, queued requests still run (without holding batches open)
   * and the promise resolves when all are answered; without, queued requests reject with
   * ShuttingDownError, and only running batches finish. The runner is not closed: it is the
   * caller's. A later call without `drain` cuts a drain short.
   */
  close(options: { drain: boolean }): Promise<void> {
    this.#closing = true;
    if (!options.drain) {
      for (const lane of this.#lanes.values()) {
        for (const p of lane.items) {
          if (p.state === 'queued')
            this.#settle(p, () =>
              p.reject(
                new ShuttingDownError('the model is shutting down; the request was not run'),
              ),
            );
        }
      }
    }
    this.#closed ??= new Promise<void>((resolve) => {
      this.#settledAll = resolve;
    }).then(() => clearTimeout(this.#wake));
    this.#pump();
    this.#checkClosed();
    return this.#closed;
  }

  #checkClosed(): void {
    if (this.#closing && this.#depth === 0 && this.#runningBatches === 0) this.#settledAll?.();
  }

  #timeout(p: Pending<W, R>): void {
    this.#timedOut++;
    const where = p.state === 'queued' ? 'in the queue' : 'while its batch ran';
    this.#settle(p, () =>
      p.reject(
        new RequestTimeoutError(
          `the request timed out after ${this.#options.requestTimeoutMs} ms (${where})`,
        ),
      ),
    );
  }

  /** Answers `p` once: unhooks its timer and signal and, if still queued, takes it out of the queue. */
  #settle(p: Pending<W, R>, answer: () => void): void {
    if (p.state === 'done') return;
    const wasQueued = p.state === 'queued';
    p.state = 'done';
    if (p.signal && p.onAbort) p.signal.removeEventListener('abort', p.onAbort);
    this.#inFlight--;
    if (wasQueued) {
      this.#depth--;
      const lane = this.#lanes.get(p.key)!;
      lane.live--;
      lane.rows -= p.rows;
      if (lane.live === 0) this.#lanes.delete(p.key);
      else while (lane.items[lane.head]!.state !== 'queued') lane.head++;
    }
    answer();
    // A running request's work belongs to its batch until the batch is answered.
    if (wasQueued) p.work = undefined;
    this.#deadlines.forget(this.#inFlight);
    this.#checkClosed();
  }

  /** Starts every batch that may start now and sets a timer for the next one that is held. */
  #pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        this.#pumpOnce();
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
    }
  }

  #pumpOnce(): void {
    // No free instance: nothing can start or be held; the instance's onIdle pumps again. Under load
    // this is most requests, and skips a copy and sort of the lanes for each.
    if (this.#runner.idle === 0) return;
    const now = performance.now();
    const max = this.#options.maxBatchSize;
    let wakeAt = Infinity;
    // Oldest request first, as Triton does; a lane that is held open does not block the others.
    const lanes =
      this.#lanes.size === 1
        ? this.#lanes.values()
        : [...this.#lanes.values()].sort((x, y) => headOf(x)!.seq - headOf(y)!.seq);
    for (const lane of lanes) {
      while (this.#runner.idle > 0 && lane.live > 0) {
        // Every queued request fits in one batch unless they hold maxBatchSize rows or more: no walk
        // of the queue for the decision, which is taken again at every arrival while a batch is held.
        const full = max === 0 || lane.rows >= max;
        const wait = this.#closing || full ? 0 : this.#holdFor(lane, now);
        if (wait > 0) {
          lane.holdSince ??= now;
          wakeAt = Math.min(wakeAt, now + wait);
          break;
        }
        const batch = this.#collect(lane);
        this.#start(lane, batch.items, batch.rows, now);
      }
      if (this.#runner.idle === 0) break;
    }
    // A timer that fires no later than needed is kept: it pumps, and the pump decides again. Setting
    // one at every arrival of a held batch would cost a clearTimeout and a setTimeout each.
    if (wakeAt < Infinity && !(this.#wake !== undefined && this.#wakeAt <= wakeAt)) {
      clearTimeout(this.#wake);
      this.#wakeAt = wakeAt;
      this.#wake = setTimeout(() => {
        this.#wake = undefined;
        this.#wakeAt = Infinity;
        this.#pump();
      }, wakeAt - now);
    }
  }

  /** The batch the lane runs now: queued requests from the oldest, up to maxBatchSize rows. */
  #collect(lane: Lane<W, R>): { items: Pending<W, R>[]; rows: number } {
    const max = this.#options.maxBatchSize;
    const items: Pending<W, R>[] = [];
    let rows = 0;
    for (let i = lane.head; i < lane.items.length; i++) {
      const p = lane.items[i]!;
      if (p.state !== 'queued') continue;
      // The first request always goes, even one larger than maxBatchSize (validation's job to refuse).
      if (items.length > 0 && (max === 0 || rows + p.rows > max)) break;
      items.push(p);
      rows += p.rows;
      if (max === 0 || rows >= max) break;
    }
    return { items, rows };
  }

  /** How much longer to hold the lane's queued requests open as a partial batch, in ms. */
  #holdFor(lane: Lane<W, R>, now: number): number {
    const delay = this.#options.maxQueueDelayMs;
    // The lane's head is always a queued request (settling and starting move it past the others).
    if (delay !== 'auto') return lane.items[lane.head]!.enqueuedAt + delay - now;
    const recent = this.#arrivals.intervalMs(now);
    // While a batch is held the instance is idle and the HTTP thread has the cores it shared with
    // it: requests can come faster than on average. That rate is the one a hold sees.
    const held =
      this.#holdRate !== undefined && this.#holdRate > 0 ? 1 / this.#holdRate : undefined;
    const interval =
      recent === undefined ? undefined : held === undefined ? recent : Math.min(recent, held);
    const meanRows = this.#arrivals.meanRows();
    const sinceLast = this.#arrivals.sinceLastMs(now);
    return decideWait({
      rows: lane.rows,
      requests: lane.live,
      maxBatchSize: this.#options.maxBatchSize,
      heldMs: lane.holdSince === undefined ? 0 : now - lane.holdSince,
      spareInstances: this.#runner.idle - 1,
      cost: this.#cost,
      arrivalIntervalMs: interval,
      meanRequestRows: meanRows,
      sinceLastArrivalMs: sinceLast,
    });
  }

  #start(lane: Lane<W, R>, items: Pending<W, R>[], rows: number, now: number): void {
    for (const p of items) p.state = 'running';
    lane.live -= items.length;
    lane.rows -= rows;
    this.#depth -= items.length;
    while (lane.head < lane.items.length && lane.items[lane.head]!.state !== 'queued') lane.head++;
    if (lane.live === 0) this.#lanes.delete(lane.key);
    else if (lane.head > 64 && lane.head * 2 > lane.items.length) {
      lane.items = lane.items.slice(lane.head);
      lane.head = 0;
    }
    const delayMs = lane.holdSince === undefined ? 0 : now - lane.holdSince;
    if (lane.holdSince !== undefined) {
      // Up to the last arrival: a hold that ended at a lull says nothing about the rate before it.
      const span = (lane.holdArrivals > 0 ? lane.holdLastArrival : now) - lane.holdSince;
      if (span > 0) {
        const rate = lane.holdArrivals / span;
        this.#holdRate =
          this.#holdRate === undefined
            ? rate
            : (1 - kHoldRateWeight) * this.#holdRate + kHoldRateWeight * rate;
      }
    }
    lane.holdSince = undefined;
    lane.holdArrivals = 0;
    this.#lastDelayMs = delayMs;
    const queueWaitMs = items.map((p) => now - p.enqueuedAt);
    this.#runningBatches++;
    this.#batches++;
    let run: Promise<BatchRun<R>>;
    try {
      run = this.#runner.run(items.map((p) => p.work!));
    } catch (err) {
      run = Promise.reject(err);
    }
    run
      .then(
        (answered) =>
          this.#succeeded(items, answered, {
            size: answered.rows ?? rows,
            requests: items.length,
            queueWaitMs,
            computeMs: answered.computeMs ?? performance.now() - now,
            delayMs,
          }),
        (err: unknown) => this.#failed(items, err),
      )
      .finally(() => {
        this.#runningBatches--;
        this.#checkClosed();
        this.#pump();
      });
  }

  #succeeded(items: Pending<W, R>[], answered: BatchRun<R>, info: BatchInfo): void {
    const results = answered.results;
    if (results.length !== items.length) {
      this.#failed(
        items,
        new InstanceFailedError(
          `the model instance answered ${results.length} requests of a batch of ${items.length}`,
        ),
      );
      return;
    }
    for (let i = 0; i < items.length; i++) {
      const p = items[i]!;
      const result = results[i]!;
      this.#settle(p, result instanceof Error ? () => p.reject(result) : () => p.resolve(result));
      p.work = undefined;
    }
    // A batch whose requests were all refused ran nothing: it says nothing about the cost of a run.
    if (info.size > 0) {
      this.#samples.push({ rows: info.size, computeMs: info.computeMs });
      if (this.#samples.length > kCostWindow) this.#samples.shift();
      this.#cost = fitBatchCost(this.#samples);
    }
    try {
      this.#hooks.onBatch?.(this.#cost ? { ...info, cost: this.#cost } : info);
    } catch {
      // Metrics must never fail a request.
    }
  }

  #failed(items: Pending<W, R>[], err: unknown): void {
    this.#failedBatches++;
    // A merged batch holds validated requests: the failure belongs to the instance, never to a request.
    const error =
      err instanceof InstanceFailedError || err instanceof ShuttingDownError
        ? err
        : new InstanceFailedError(
            `the model instance failed to run the batch: ${(err as Error)?.message ?? String(err)}`,
            { cause: err },
          );
    for (const p of items) this.#settle(p, () => p.reject(error));
    for (const p of items) p.work = undefined;
  }
}

function headOf<W, R>(lane: Lane<W, R>): Pending<W, R> | undefined {
  for (let i = lane.head; i < lane.items.length; i++) {
    if (lane.items[i]!.state === 'queued') return lane.items[i];
  }
  return undefined;
}

function validateOptions(o: DynamicBatcherOptions): void {
  if (o === null || typeof o !== 'object')
    throw new TypeError(`options must be an object, got ${String(o)}`);
  const integer = (what: string, v: unknown, min: number): void => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
      throw new TypeError(`options.${what} must be an integer >= ${min}, got ${String(v)}`);
  };
  integer('maxBatchSize', o.maxBatchSize, 0);
  integer('maxQueue', o.maxQueue, 1);
  if (
    typeof o.requestTimeoutMs !== 'number' ||
    !(o.requestTimeoutMs > 0) ||
    !Number.isFinite(o.requestTimeoutMs)
  ) {
    throw new TypeError(
      `options.requestTimeoutMs must be a positive number of milliseconds, got ${String(o.requestTimeoutMs)}`,
    );
  }
  const d = o.maxQueueDelayMs;
  if (d !== 'auto' && (typeof d !== 'number' || !(d >= 0) || !Number.isFinite(d))) {
    throw new TypeError(
      `options.maxQueueDelayMs must be a non-negative number of milliseconds or "auto", got ${JSON.stringify(d)}`,
    );
  }
}
