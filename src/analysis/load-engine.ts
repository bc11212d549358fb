/**
 * The engine behind `runLoad`: sends requests through a keep-alive connection pool
 * (`http-load-pool.ts`) on an open-loop schedule or from N closed loops, and counts what comes
 * back. Takes filled, validated options; the public facade is `loadgen.ts`.
 *
 * Open loop (constant arrival rate): request i is due at `start + i / rate`. A scheduler tick
 * sends every request that is due, computing the count from the clock rather than from a timer per
 * request, and latency is measured from the request's *scheduled* time. A server that stalls
 * therefore cannot hide the queue it builds: requests that wait for a busy connection (the pool
 * queues them) are charged for the wait — the coordinated-omission correction of wrk2
 * (https://github.com/giltene/wrk2, "Acknowledgements" and the README's latency examples).
 *
 * Closed loop: N loops each send a request, wait for its answer, and send the next; latency is
 * measured from the actual send. It shows what N eager clients see, and hides stalls.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import {
  HttpLoadPool,
  serialiseRequest,
  type LoadReceiver,
  type LoadRequest,
} from './http-load-pool.js';
import { Prng } from '../model/prng.js';
import type * as hdr from 'hdr-histogram-js';
import { createHistogram, errorKind, recordMs, summarise } from './load-recorder.js';
import type { LoadInterval, LoadProgress, LoadResult } from './load-result.js';
import type { FilledLoadOptions } from './load-options.js';
import { generatorVerdict } from './load-verdict.js';

/** Open loop: at most this many sends per scheduler tick, so that answers are read in between. */
const kMaxSendsPerTick = 512;
/** Open loop: requests sent but unanswered beyond which the scheduler stops sending (memory bound). */
const kMaxOutstanding = 200_000;
/** Open loop: how long past the window's end late sends may still leave (ms). */
const kOpenLoopGraceMs = 1000;

/** One request: when its latency counts from, and whether it belongs to the measured window. */
class Sent implements LoadRequest {
  constructor(
    /** performance.now() the latency counts from: scheduled time (open) or send time (closed). */
    readonly fromMs: number,
    /** Sent in the measured window (after warm-up, before the end). */
    readonly measured: boolean,
    /** Its own request bytes when the run has several bodies. */
    readonly bytes?: Buffer,
  ) {}
}

/** One run; `run()` once. */
export class LoadEngine implements LoadReceiver<Sent> {
  readonly #o: FilledLoadOptions;
  readonly #pool: HttpLoadPool<Sent>;
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
  /** Each body's request bytes, when there are several, and the generator of the random order. */
  readonly #requests: readonly Buffer[] | null;
  readonly #pick: Prng | null;
  #picked = 0;
  /** The time series' counters at the last interval's end. */
  #lastTick = { ms: 0, sent: 0, ok: 0, errors: 0, second: 0 };
  #intervalErrors = 0;
  #onStopped: (() => void) | null = null;
  constructor(options: FilledLoadOptions) {
    this.#o = options;
    this.#pool = new HttpLoadPool<Sent>(
      {
        url: options.url,
        method: options.method,
        headers: options.headers,
        body: options.body,
        connections: options.connections,
        timeoutMs: options.requestTimeoutMs,
      },
      this,
    );
    this.#requests =
      options.bodies === null
        ? null
        : options.bodies.map((body) => serialiseRequest({ ...options, body }));
    this.#pick =
      options.bodies !== null && options.bodyOrder === 'random' ? new Prng(options.seed) : null;
  }

  /** Runs the load and resolves with its result; an abort ends it early with what was measured. */
  async run(): Promise<LoadResult> {
    const o = this.#o;
    const elu0 = performance.eventLoopUtilization();
    this.#startMs = performance.now();
    this.#windowStartMs = this.#startMs + o.warmupMs;
    this.#windowEndMs = this.#windowStartMs + o.durationMs;
    this.#lastTick = { ms: this.#startMs, sent: 0, ok: 0, errors: 0, second: 0 };
    const progress =
      o.onProgress || o.onInterval ? setInterval(() => this.#progress(), 1000) : null;
    const onAbort = () => this.#stop(true);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.signal?.aborted) this.#stop(true);
    // The open loop ends itself once the last scheduled request is sent; its timer only cuts off
    // a schedule that fell this far behind, and the requests left unsent show in the sent rate.
    const stopAfterMs = o.warmupMs + o.durationMs + (o.mode === 'open' ? kOpenLoopGraceMs : 0);
    const stopTimer = setTimeout(() => this.#stop(false), stopAfterMs);
    try {
      if (o.mode === 'open') await this.#openLoop();
      else await this.#closedLoop();
      await this.#drain();
    } finally {
      clearTimeout(stopTimer);
      if (progress) clearInterval(progress);
      // The last, partial second of the time series.
      if (o.onInterval && performance.now() - this.#lastTick.ms >= 100) this.#interval();
      o.signal?.removeEventListener('abort', onAbort);
      this.#closed = true;
      this.#pool.close();
    }
    const elu = performance.eventLoopUtilization(elu0);
    const result = this.#result(elu.utilization);
    this.#latency.destroy();
    this.#intervalLatency.destroy();
    this.#sendLag.destroy();
    return result;
  }

  /** Called by the pool when a request's answer is complete. */
  onResponse(h: Sent, status: number): void {
    if (this.#closed) return;
    const now = performance.now();
    this.#finish(h);
    if (status >= 200 && status < 300) {
      const ms = now - h.fromMs;
      if (h.measured) {
        recordMs(this.#latency, ms);
        this.#measuredOk++;
      }
      if (this.#o.onProgress || this.#o.onInterval) recordMs(this.#intervalLatency, ms);
      this.#intervalOk++;
      if (now >= this.#windowStartMs && now <= this.#windowEndMs) this.#okInWindow++;
    } else {
      // Non-2xx answers are counted by status and kept out of the latency histogram.
      this.#countError(h, `status ${status}`);
    }
    this.#next();
  }

  /** Called by the pool when a request failed (refused, reset, timed out). */
  onFailure(h: Sent, err: Error): void {
    if (this.#closed) return;
    this.#finish(h);
    this.#countError(h, errorKind(err));
    this.#next();
  }

  #finish(h: Sent): void {
    this.#inflight--;
    this.#completed++;
    if (h.measured) this.#inflightMeasured--;
  }

  #countError(h: Sent, kind: string): void {
    this.#errorsTotal++;
    this.#intervalErrors++;
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
    this.#pool.send(new Sent(fromMs, measured, this.#nextBytes()));
  }

  /** The next request's bytes: the bodies in turn, or one at random; undefined with one body. */
  #nextBytes(): Buffer | undefined {
    const all = this.#requests;
    if (all === null) return undefined;
    const i = this.#pick ? this.#pick.nextInt(all.length) : this.#picked++ % all.length;
    return all[i];
  }

  /** Ends sending; `aborted`: before the planned end, so the measured window ends now. */
  #stop(aborted: boolean): void {
    if (!this.#sending) return;
    this.#sending = false;
    // Only an abort shortens the window: the planned stop's timer can fire a few microseconds
    // before the window's end by performance.now() (timers keep millisecond time), and must not
    // cut it to 0.49996 s.
    const now = performance.now();
    if (aborted && now < this.#windowEndMs) this.#windowEndMs = Math.max(now, this.#windowStartMs);
    this.#onStopped?.();
  }

  #openLoop(): Promise<void> {
    const schedule = this.#o.schedule!;
    const total = schedule.total;
    let next = 0;
    return new Promise<void>((resolve) => {
      const tick = (): void => {
        if (!this.#sending || next >= total) {
          this.#sending = false;
          resolve();
          return;
        }
        const now = performance.now();
        const due = schedule.countBy(now - this.#startMs);
        let budget = kMaxSendsPerTick;
        while (next < due && budget-- > 0) {
          const scheduled = this.#startMs + schedule.timeOf(next);
          next++;
          if (this.#inflight >= kMaxOutstanding) {
            // Past the backlog bound the request is not sent; it is counted, so the run says so.
            if (scheduled >= this.#windowStartMs) {
              this.#measuredSent++;
              this.#backlogSkipped++;
              this.#measuredErrors++;
              this.#errorsByKind.set(
                'backlog full',
                (this.#errorsByKind.get('backlog full') ?? 0) + 1,
              );
            }
            continue;
          }
          if (scheduled >= this.#windowStartMs) recordMs(this.#sendLag, now - scheduled);
          this.#send(scheduled);
        }
        const waitMs = next < total ? this.#startMs + schedule.timeOf(next) - performance.now() : 0;
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
    const signal = this.#o.signal;
    return new Promise<void>((resolve) => {
      const onAbort = (): void => this.#onDrained?.();
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#onDrained = null;
        resolve();
      };
      const timer = setTimeout(() => {
        if (this.#inflightMeasured > 0) {
          this.#measuredErrors += this.#inflightMeasured;
          this.#errorsByKind.set(
            'timeout',
            (this.#errorsByKind.get('timeout') ?? 0) + this.#inflightMeasured,
          );
        }
        done();
      }, this.#o.requestTimeoutMs);
      this.#onDrained = done;
      // One signal may serve many runs (a sweep's points): the listener goes when the drain ends.
      signal?.addEventListener('abort', onAbort, { once: true });
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
    if (this.#o.onInterval) this.#interval();
    h.reset();
    this.#intervalOk = 0;
    this.#o.onProgress?.(p);
  }

  /** One second of the time series: what was offered, sent and answered since the last one. */
  #interval(): void {
    const now = performance.now();
    const last = this.#lastTick;
    const spanS = Math.max(now - last.ms, 1) / 1000;
    const h = this.#intervalLatency;
    const at = (p: number) =>
      h.totalCount === 0
        ? null
        : Math.round(Math.min(h.getValueAtPercentile(p), h.maxValue)) / 1000;
    const schedule = this.#o.schedule;
    const fromS = (last.ms - this.#startMs) / 1000;
    const toS = (now - this.#startMs) / 1000;
    const ok = this.#intervalOk;
    const s: LoadInterval = {
      second: last.second + 1,
      t: Math.round(toS * 1000) / 1000,
      measured: now > this.#windowStartMs && last.ms < this.#windowEndMs,
      offered:
        schedule === null
          ? null
          : schedule.countBy(toS * 1000) -
            (last.ms === this.#startMs ? 0 : schedule.countBy(fromS * 1000)),
      offeredRate: schedule === null ? null : round1(schedule.rateAt(toS * 1000)),
      sent: this.#sent - last.sent,
      ok,
      errors: this.#intervalErrors,
      okRate: round1(ok / spanS),
      inflight: this.#inflight,
      p50Ms: at(50),
      p90Ms: at(90),
      p99Ms: at(99),
      maxMs: h.totalCount === 0 ? null : Math.round(h.maxValue) / 1000,
    };
    this.#lastTick = { ms: now, sent: this.#sent, ok: 0, errors: 0, second: s.second };
    this.#intervalErrors = 0;
    this.#o.onInterval?.(s);
  }

  #result(eventLoopUtilisation: number): LoadResult {
    const o = this.#o;
    // Rounded to the microsecond: the window's ends are clock readings plus the duration, and
    // their difference carries float error (500 ms came out as 0.5000000000000001 s).
    const durationS = Math.round(Math.max(this.#windowEndMs - this.#windowStartMs, 1) * 1000) / 1e6;
    const sentRate = (this.#measuredSent - this.#backlogSkipped) / durationS;
    const achievedRate = this.#okInWindow / durationS;
    const { generatorBound, generatorNote } = generatorVerdict(
      o,
      sentRate,
      achievedRate,
      this.#sendLag,
      eventLoopUtilisation,
    );
    return {
      mode: o.mode,
      offeredRate: o.mode === 'open' ? o.rate : null,
      ...(o.profile !== null ? { profile: o.profile } : {}),
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

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
