/**
 * What a load run counts: latencies of 2xx responses in HdrHistograms (microseconds), failures by
 * kind, and the per-second figures of the progress line.
 *
 * The histograms are hdr-histogram-js's WebAssembly implementation: on this project's benchmark
 * machine it records a value in about 27 ns against 125 ns for the JavaScript one, and reads a
 * percentile in half the time (see BENCHMARKS.md, "Load generator").
 *
 * @module
 */
import * as hdr from 'hdr-histogram-js';
import type { LatencySummaryMs } from './sweep-schema.js';

/** Highest latency a histogram holds: one hour, in microseconds; larger values are clamped to it. */
const kHighestTrackableUs = 3_600_000_000;

let wasmReady: Promise<void> | undefined;

/** Loads the WebAssembly histogram code once per process. */
export function initHistograms(): Promise<void> {
  wasmReady ??= hdr.initWebAssembly();
  return wasmReady;
}

/** A latency histogram in microseconds with three significant digits (0.1% resolution). */
export function createHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: kHighestTrackableUs,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: true,
  });
}

/** Records `ms` milliseconds into a microsecond histogram (at least 1 µs, at most one hour). */
export function recordMs(h: hdr.Histogram, ms: number): void {
  const us = Math.round(ms * 1000);
  h.recordValue(us < 1 ? 1 : us > kHighestTrackableUs ? kHighestTrackableUs : us);
}

/** p50/p90/p95/p99/p99.9/max/mean of a microsecond histogram, in milliseconds; zeros when it is empty. */
export function summarise(h: hdr.Histogram): LatencySummaryMs {
  if (h.totalCount === 0) return { p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  const max = h.maxValue;
  const ms = (us: number) => Math.round(us) / 1000;
  // A percentile is the highest value equivalent to its bucket, which can exceed the recorded max.
  const at = (p: number) => ms(Math.min(h.getValueAtPercentile(p), max));
  return {
    p50: at(50),
    p90: at(90),
    p95: at(95),
    p99: at(99),
    p999: at(99.9),
    max: ms(max),
    mean: ms(h.mean),
  };
}

/**
 * The kind of a failed request, as shown in `errorsByKind`: `timeout` for a request with no
 * complete answer in time or that waited for a connection past the timeout, `socket closed` when
 * the server closed the connection mid-request, `invalid answer` for a response that is not
 * HTTP/1.1, otherwise the OS error code (`ECONNREFUSED`, `ECONNRESET`, …) or the error's name.
 */
export function errorKind(err: unknown): string {
  const name = (err as Error | null)?.name;
  if (name === 'LoadTimeoutError') return 'timeout';
  if (name === 'SocketClosedError') return 'socket closed';
  if (name === 'ResponseParseError') return 'invalid answer';
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return name ?? 'error';
}
