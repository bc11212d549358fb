/**
 * The engine behind `runLoad`: sends requests through an undici Pool on an open-loop schedule or
 * from N closed loops, and counts what comes back. Takes filled, validated options; the public
 * facade is `loadgen.ts`.
 *
 * Open loop (constant arrival rate): request i is due at `start + i / rate`. A scheduler tick
 * sends every request that is due, computing the count from the clock rather than from a timer per
 * request, and latency is measured from the request's *scheduled* time. A server that stalls
 * therefore cannot hide the queue it builds: requests that wait for a busy connection (the Pool
 * queues them) are charged for the wait — the coordinated-omission correction of wrk2
 * (https://github.com/giltene/wrk2, "Acknowledgements" and the README's latency examples).
 *
 * Closed loop: N loops each send a request, wait for its answer, and send the next; latency is
 * measured from the actual send. It shows what N eager clients see, and hides stalls.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import { Pool, type Dispatcher } from 'undici';
import type * as hdr from 'hdr-histogram-js';
import { createHistogram, errorKind, recordMs, summarise } from './load-recorder.js';
import type { LoadProgress, LoadResult } from './loadgen.js';

/** Options after defaults and validation; every field present. */
export interface FilledLoadOptions {
  readonly url: URL;
  readonly method: 'GET' | 'POST';
  readonly body: Buffer | null;
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

/** Open loop: at most this many sends per scheduler tick, so that answers are read in between. */
const kMaxSendsPerTick = 512;
/** Open loop: requests sent but unanswered beyond which the scheduler stops sending (memory bound). */
const kMaxOutstanding = 200_000;
/** Open loop: sends later than this behind schedule at p99 make the run generator-bound (ms). */
const kMaxSendLagP99Ms = 10;
/** Open loop: a sent rate below this share of the offered rate makes the run generator-bound. */
const kMinSentShare = 0.95;
/** Open loop: how long past the window's end late sends may still leave (ms). */
const kOpenLoopGraceMs = 1000;
/** Closed loop: event-loop utilisation above this says the generator itself may be the bottleneck. */
const kBusyEventLoop = 0.95;

/** A request that waited for a connection longer than the request timeout. */
export class QueuedTooLongError extends Error {
  override readonly name = 'QueuedTooLongError';
}

/** One request in flight: the legacy undici handler interface, which undici calls without a wrapper. */
class RequestHandler implements Dispatcher.DispatchHandler {
  status = 0;
  constructor(
    private readonly engine: LoadEngine,
    /** performance.now() the latency counts from: scheduled time (open) or send time (closed). */
    readonly fromMs: number,
    /** Sent in the measured window (after warm-up, before the end). */
    readonly measured: boolean,
  ) {}
  onConnect(): void {
    // A request that waited in the Pool's queue past the request timeout is a timeout already:
    // throwing here fails it without sending and without closing the connection (undici's
    // client-h1 catches it), so an overloaded server's backlog drains in bounded time.
    if (performance.now() - this.fromMs > this.engine.requestTimeoutMs) throw new QueuedTooLongError();
  }
  onHeaders(statusCode: number): boolean {
    this.status = statusCode;
    return true;
  }
  onData(): boolean {
    return true;
  }
  onComplete(): void {
    this.engine.complete(this);
  }
  onError(err: Error): void {
    this.engine.fail(this, err);
  }
}

/** One run; `run()` once. */
export class LoadEngine {
  readonly #o: FilledLoadOptions;
  readonly #pool: Pool;
  readonly #dispatchOptions: Dispatcher.DispatchOptions;
  readonly #latency: hdr.Histogram = createHistogram();
  readonly #intervalLatency: hdr.Histogram = createHistogram();
  readonly #sendLag: hdr.Histogram = createHistogram();
  readonly #errorsByKind = new Map<string, number>();
  #startMs = 0;
  #windowStartMs = 0;
  #windowEndMs = 0;
  #sending = true;
  #closed = false;
  #inflight = 0;
  #inflightMeasured = 0;
  #sent = 0;
  #completed = 0;
  #errorsTotal = 0;
  /** Requests of the window that the backlog bound kept from being sent (counted in #measuredSent). */
  #backlogSkipped = 0;
  #measuredSent = 0;
  #measuredOk = 0;
  #measuredErrors = 0;
  #okInWindow = 0;
  #intervalOk = 0;
  #onDrained: (() => void) | null = null;
  #onStopped: (() => void) | null = null;
  /** ms; read by every request handler. */
  readonly requestTimeoutMs: number;

  constructor(options: FilledLoadOptions) {
    this.#o = options;
    this.requestTimeoutMs = options.requestTimeoutMs;
    const timeout = options.requestTimeoutMs;
    this.#pool = new Pool(options.url.origin, {
      connections: options.connections,
      pipelining: 1,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      connect: { timeout: Math.min(timeout, 10_000) },
      keepAliveTimeout: 60_000,
    });
    this.#dispatchOptions = {
      origin: options.url.origin,
      path: options.url.pathname + options.url.search,
      method: options.method,
      headers: options.headers as string[],
      body: options.body,
    };
  }

  /** Runs the load and resolves with its result; an abort ends it early with what was measured. */
  async run(): Promise<LoadResult> {
    const o = this.#o;
    const elu0 = performance.eventLoopUtilization();
    this.#startMs = performance.now();
    this.#windowStartMs = this.#startMs + o.warmupMs;
    this.#windowEndMs = this.#windowStartMs + o.durationMs;
    const progress = o.onProgress ? setInterval(() => this.#progress(), 1000) : null;
    const onAbort = () => this.#stop();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.signal?.aborted) this.#stop();
    // The open loop ends itself once the last scheduled request is sent; its timer only cuts off
    // a schedule that fell this far behind, and the requests left unsent show in the sent rate.
    const stopAfterMs = o.warmupMs + o.durationMs + (o.mode === 'open' ? kOpenLoopGraceMs : 0);
    const stopTimer = setTimeout(() => this.#stop(), stopAfterMs);
    try {
      if (o.mode === 'open') await this.#openLoop();
      else await this.#closedLoop();
      await this.#drain();
    } finally {
      clearTimeout(stopTimer);
      if (progress) clearInterval(progress);
      o.signal?.removeEventListener('abort', onAbort);
      this.#closed = true;
      await this.#pool.destroy().catch(() => {});
    }
    const elu = performance.eventLoopUtilization(elu0);
    const result = this.#result(elu.utilization);
    this.#latency.destroy();
    this.#intervalLatency.destroy();
    this.#sendLag.destroy();
    return result;
  }

  /** Called by a handler when its response has ended. */
  complete(h: RequestHandler): void {
    if (this.#closed) return;
    const now = performance.now();
    this.#finish(h);
    if (h.status >= 200 && h.status < 300) {
      const ms = now - h.fromMs;
      if (h.measured) {
        recordMs(this.#latency, ms);
        this.#measuredOk++;
      }
      if (this.#o.onProgress) recordMs(this.#intervalLatency, ms);
      this.#intervalOk++;
      if (now >= this.#windowStartMs && now <= this.#windowEndMs) this.#okInWindow++;
    } else {
      // Non-2xx answers are counted by status and kept out of the latency histogram.
      this.#countError(h, `status ${h.status}`);
    }
    this.#next();
  }

  /** Called by a handler when its request failed (refused, reset, timed out). */
  fail(h: RequestHandler, err: Error): void {
    if (this.#closed) return;
    this.#finish(h);
    this.#countError(h, errorKind(err));
    this.#next();
  }

  #finish(h: RequestHandler): void {
    this.#inflight--;
    this.#completed++;
    if (h.measured) this.#inflightMeasured--;
  }

  #countError(h: RequestHandler, kind: string): void {
    this.#errorsTotal++;
    if (!h.measured) return;
    this.#measuredErrors++;
    this.#errorsByKind.set(kind, (this.#errorsByKind.get(kind) ?? 0) + 1);
  }

  /** After an answer: the closed loop sends its next request; a drain may be over. */
  #next(): void {
    if (this.#o.mode === 'closed' && this.#sending) this.#send(performance.now());
    else if (this.#inflight === 0 && this.#onDrained) this.#onDrained();
  }

  #send(fromMs: number): void {
    const measured = fromMs >= this.#windowStartMs && fromMs < this.#windowEndMs;
    this.#inflight++;
    this.#sent++;
    if (measured) {
      this.#inflightMeasured++;
      this.#measuredSent++;
    }
    this.#pool.dispatch(this.#dispatchOptions, new RequestHandler(this, fromMs, measured));
  }

  #stop(): void {
    if (!this.#sending) return;
    this.#sending = false;
    // An abort before the planned end: the window ends now.
    const now = performance.now();
    if (now < this.#windowEndMs) this.#windowEndMs = Math.max(now, this.#windowStartMs);
    this.#onStopped?.();
  }

  #openLoop(): Promise<void> {
    const intervalMs = 1000 / this.#o.rate;
    const total = Math.ceil(((this.#o.warmupMs + this.#o.durationMs) * this.#o.rate) / 1000);
    let next = 0;
    return new Promise<void>((resolve) => {
      const tick = (): void => {
        if (!this.#sending || next >= total) {
          this.#sending = false;
          resolve();
          return;
        }
        const now = performance.now();
        const due = Math.min(total, Math.floor((now - this.#startMs) / intervalMs) + 1);
        let budget = kMaxSendsPerTick;
        while (next < due && budget-- > 0) {
          const scheduled = this.#startMs + next * intervalMs;
          next++;
          if (this.#inflight >= kMaxOutstanding) {
            // Past the backlog bound the request is not sent; it is counted, so the run says so.
            if (scheduled >= this.#windowStartMs) {
              this.#measuredSent++;
              this.#backlogSkipped++;
              this.#measuredErrors++;
              this.#errorsByKind.set('backlog full', (this.#errorsByKind.get('backlog full') ?? 0) + 1);
            }
            continue;
          }
          if (scheduled >= this.#windowStartMs) recordMs(this.#sendLag, now - scheduled);
          this.#send(scheduled);
        }
        const waitMs = this.#startMs + next * intervalMs - performance.now();
        if (budget < 0) {
          // Sends left over from a full tick go out after the answers waiting to be read.
          setImmediate(tick);
          return;
        }
        // Node's timers have millisecond granularity (as wrk2's event loop has), so above 1000/s
        // requests leave in small bursts once a millisecond, each charged from its own scheduled
        // time. Spinning on setImmediate instead would burn a core that the server under test may
        // need on the same machine.
        setTimeout(tick, Math.max(1, Math.floor(waitMs)));
      };
      tick();
    });
  }

  #closedLoop(): Promise<void> {
    const now = performance.now();
    if (this.#sending) for (let i = 0; i < this.#o.connections; i++) this.#send(now);
    return new Promise<void>((resolve) => {
      if (!this.#sending) resolve();
      else this.#onStopped = resolve;
    });
  }

  /** Waits for the requests in flight, up to the request timeout; the rest count as timeouts. */
  #drain(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        if (this.#inflightMeasured > 0) {
          this.#measuredErrors += this.#inflightMeasured;
          this.#errorsByKind.set('timeout', (this.#errorsByKind.get('timeout') ?? 0) + this.#inflightMeasured);
        }
        this.#onDrained = null;
        resolve();
      }, this.#o.requestTimeoutMs);
      this.#onDrained = () => {
        clearTimeout(timer);
        this.#onDrained = null;
        resolve();
      };
      this.#o.signal?.addEventListener('abort', () => this.#onDrained?.(), { once: true });
    });
  }

  #progress(): void {
    const h = this.#intervalLatency;
    const p: LoadProgress = {
      elapsedS: Math.round((performance.now() - this.#startMs) / 100) / 10,
      sent: this.#sent,
      completed: this.#completed,
      errors: this.#errorsTotal,
      currentRate: this.#intervalOk,
      p99Ms: h.totalCount === 0 ? 0 : Math.round(h.getValueAtPercentile(99)) / 1000,
    };
    h.reset();
    this.#intervalOk = 0;
    this.#o.onProgress?.(p);
  }

  #result(eventLoopUtilisation: number): LoadResult {
    const o = this.#o;
    // Rounded to the microsecond: the window's ends are clock readings plus the duration, and
    // their difference carries float error (500 ms came out as 0.5000000000000001 s).
    const durationS = Math.round(Math.max(this.#windowEndMs - this.#windowStartMs, 1) * 1000) / 1e6;
    const sentRate = (this.#measuredSent - this.#backlogSkipped) / durationS;
    const achievedRate = this.#okInWindow / durationS;
    let generatorBound = false;
    let generatorNote: string | null = null;
    const fmt = (n: number) => String(Math.round(n));
    if (o.mode === 'open') {
      const lagP99 = this.#sendLag.totalCount === 0 ? 0 : this.#sendLag.getValueAtPercentile(99) / 1000;
      const tooFew = sentRate < kMinSentShare * o.rate;
      const late = lagP99 > kMaxSendLagP99Ms;
      generatorBound = tooFew || late;
      if (generatorBound) {
        generatorNote =
          `offered ${fmt(o.rate)}/s, achieved ${fmt(sentRate)}/s, generator-bound` +
          (late ? ` (sends fell behind the schedule by ${lagP99.toFixed(1)} ms at p99)` : '');
      }
    } else if (eventLoopUtilisation > kBusyEventLoop) {
      generatorNote =
        `the load generator's event loop was busy ${Math.round(eventLoopUtilisation * 100)}% of the time: ` +
        `${fmt(achievedRate)}/s may be its limit rather than the server's`;
    }
    return {
      mode: o.mode,
      offeredRate: o.mode === 'open' ? o.rate : null,
      achievedRate,
      sentRate,
      durationS,
      requests: this.#measuredSent,
      ok: this.#measuredOk,
      errors: this.#measuredErrors,
      errorsByKind: Object.fromEntries([...this.#errorsByKind].sort((a, b) => b[1] - a[1])),
      latencyMs: summarise(this.#latency),
      generatorBound,
      generatorNote,
    };
  }
}
