/**
 * Pass/fail criteria of a load run, as k6's thresholds: `p99<50ms`, `errors<0.1%`, `rps>100`.
 * `mlscale load --threshold` (repeatable) exits with `kThresholdExitCode` when one fails, so a CI
 * job can gate on it.
 *
 * Grammar: METRIC OP VALUE, spaces allowed around OP.
 *   latency  p50 p90 p95 p99 p99.9 max mean   VALUE with a unit: ms or s (50ms, 0.2s)
 *   errors   share of requests that failed    VALUE in % (0.1%) or a fraction (0.001)
 *   rps      2xx answers per second           VALUE a number
 *   OP       <  <=  >  >=
 *
 * @module
 */
import { InvalidOptionError } from '../errors.js';
import type { LoadResult } from './load-result.js';

/** Exit status of `mlscale load` when a threshold fails (k6's). */
export const kThresholdExitCode = 99;

/** The forms `--threshold` accepts, for error messages. */
export const kThresholdForms =
  'METRIC OP VALUE with METRIC p50, p90, p95, p99, p99.9, max or mean (VALUE in ms or s), errors (VALUE in % or a fraction) or rps; OP <, <=, > or >= (e.g. p99<50ms, errors<0.1%, rps>100)';

type Op = '<' | '<=' | '>' | '>=';
const kLatency = ['p50', 'p90', 'p95', 'p99', 'p99.9', 'max', 'mean'] as const;
type Metric = (typeof kLatency)[number] | 'errors' | 'rps';

/** One parsed threshold. */
export interface Threshold {
  /** As given, for the summary. */
  readonly text: string;
  readonly metric: Metric;
  readonly op: Op;
  /** In the metric's own unit: ms, a fraction of requests, or requests/s. */
  readonly value: number;
}

/** A threshold checked against a result. */
export interface ThresholdOutcome {
  readonly threshold: Threshold;
  /** The measured value, in the metric's unit. */
  readonly actual: number;
  readonly passed: boolean;
}

/** Parses one `--threshold`; an `InvalidOptionError` naming `flag`, the forms and the text otherwise. */
export function parseThreshold(text: string, flag = '--threshold'): Threshold {
  const fail = (why: string): never => {
    throw new InvalidOptionError(
      `${flag} ${JSON.stringify(text)}: ${why}; expected ${kThresholdForms}`,
    );
  };
  const m = /^\s*([a-z0-9.]+)\s*(<=|>=|<|>)\s*(\S+)\s*$/i.exec(text);
  if (!m) return fail('not METRIC OP VALUE');
  const metric = m[1]!.toLowerCase() as Metric;
  const op = m[2] as Op;
  const valueText = m[3]!;
  if ((kLatency as readonly string[]).includes(metric)) {
    const v = /^(\d+(?:\.\d+)?)(ms|s)$/i.exec(valueText);
    if (!v) return fail(`a latency needs a unit, ms or s, got ${JSON.stringify(valueText)}`);
    const ms = Number(v[1]) * (v[2]!.toLowerCase() === 's' ? 1000 : 1);
    return { text: text.trim(), metric, op, value: ms };
  }
  if (metric === 'errors') {
    const v = /^(\d+(?:\.\d+)?)(%)?$/.exec(valueText);
    const share = v ? Number(v[1]) / (v[2] ? 100 : 1) : NaN;
    if (!v || share > 1)
      return fail(
        `errors are a share of requests, 0.1% or 0.001, got ${JSON.stringify(valueText)}`,
      );
    return { text: text.trim(), metric, op, value: share };
  }
  if (metric === 'rps') {
    const v = /^\d+(?:\.\d+)?$/.test(valueText) ? Number(valueText) : NaN;
    if (!Number.isFinite(v))
      return fail(`rps is a number of 2xx answers per second, got ${JSON.stringify(valueText)}`);
    return { text: text.trim(), metric, op, value: v };
  }
  return fail(`unknown metric ${JSON.stringify(m[1])}`);
}

/** The value of a threshold's metric in a result. */
export function metricValue(metric: Metric, r: LoadResult): number {
  switch (metric) {
    case 'errors':
      return r.requests === 0 ? 0 : r.errors / r.requests;
    case 'rps':
      return r.achievedRate;
    case 'p99.9':
      return r.latencyMs.p999;
    case 'p95':
      return r.latencyMs.p95 ?? r.latencyMs.p99;
    default:
      return r.latencyMs[metric];
  }
}

/**
 * Checks every threshold. A latency threshold fails when no request got a 2xx answer (there is no
 * latency to pass with), as does any threshold of a run that sent nothing.
 */
export function checkThresholds(
  thresholds: readonly Threshold[],
  r: LoadResult,
): ThresholdOutcome[] {
  return thresholds.map((threshold) => {
    const actual = metricValue(threshold.metric, r);
    const latency = (kLatency as readonly string[]).includes(threshold.metric);
    const measurable = r.requests > 0 && (!latency || r.ok > 0);
    const v = threshold.value;
    const holds =
      threshold.op === '<'
        ? actual < v
        : threshold.op === '<='
          ? actual <= v
          : threshold.op === '>'
            ? actual > v
            : actual >= v;
    return { threshold, actual, passed: measurable && holds };
  });
}

/** `p99<50ms  passed (p99 = 12.3 ms)`: one line per threshold for the summary. */
export function formatOutcome(o: ThresholdOutcome): string {
  const m = o.threshold.metric;
  const actual =
    m === 'errors'
      ? `${(o.actual * 100).toFixed(o.actual < 0.01 ? 3 : 2)}%`
      : m === 'rps'
        ? `${o.actual.toFixed(1)}/s`
        : `${o.actual.toFixed(o.actual >= 100 ? 0 : 2)} ms`;
  return `${o.passed ? '✓ passed' : '✗ FAILED'}  ${o.threshold.text}  (${m} = ${actual})`;
}
