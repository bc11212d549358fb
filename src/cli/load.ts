/**
 * `mlscale load`: parse and validate flags, check the target, run the load generator with a live
 * progress line, print the summary (or JSON) with each threshold passed or failed, write the time
 * series and the report; exit non-zero when a threshold failed.
 *
 * @module
 */
import {
  kDefaultLoadOptions,
  runLoad,
  type LoadInterval,
  type LoadOptions,
  type LoadProgress,
  type LoadResult,
} from '../analysis/loadgen.js';
import { TimeseriesWriter } from '../analysis/load-timeseries.js';
import {
  checkThresholds,
  formatOutcome,
  kThresholdExitCode,
  type ThresholdOutcome,
} from '../analysis/thresholds.js';
import { parseFlags } from './args.js';
import { kDefaultDurationMs, loadFlags, readLoadFlags } from './load-flags.js';

const d = kDefaultLoadOptions;
/** Without a terminal, one progress line per this many seconds. */
const kPlainProgressEveryS = 5;

/** `mlscale load --help`. */
export const loadHelp = `Usage: mlscale load --url URL (--rate N | --profile SHAPE) [options]

Sends HTTP requests to one URL and reports latency percentiles, throughput and errors; with
--threshold, fails (exit ${kThresholdExitCode}) when the run misses its targets, so a CI job can gate on it.

  --url URL            http:// or https:// URL every request goes to
  --mode open|closed   open: requests arrive on a schedule (--rate or --profile), latency measured
                       from each request's scheduled send time (a stalled server's queue shows);
                       closed: --connections clients that each wait for their answer  [open]
  --rate N             requests per second, constant (open loop only)
  --profile SHAPE      the rate over time instead (open loop); repeatable, stages in order:
                         const:RATE:TIME        e.g. const:100:30s
                         ramp:FROM..TO:TIME     linear, e.g. ramp:10..200:1m
                         steps:R1,R2,...:TIME   each rate for TIME, e.g. steps:50,100,200:10s
                         spike:BASE..PEAK:TIME  BASE, PEAK for the middle fifth, BASE again
                       the measured window is the profile's length (no --duration)
  --duration TIME      measured window: 500ms, 30s, 2m, 1h (a bare number is seconds)  [${kDefaultDurationMs / 1000}s]
  --connections N      open: the connection pool's size; closed: concurrent clients  [${d.connections}]
  --body FILE          request body from a file (also @FILE); JSON is checked; implies POST
  --body-file FILE     request bodies, one Open Inference Protocol request per line (JSON Lines);
                       each line is checked (errors say FILE:LINE); implies POST
  --body-order ORDER   round-robin (each line in turn) or random (seeded by --seed)  [round-robin]
  --seed N             seed of the random body order  [1]
  --method GET|POST    [POST with --body or --body-file, else GET]
  --header 'K: V'      an extra request header; repeatable; content-type defaults to
                       application/json with a body
  --warmup TIME        load sent first and not recorded  [0s]
  --timeout TIME       a request unanswered this long (queueing included) is a timeout  [${d.requestTimeoutMs / 1000}s]
  --threshold EXPR     a pass/fail criterion; repeatable: METRIC OP VALUE with
                         METRIC p50 p90 p95 p99 p99.9 max mean (VALUE in ms or s),
                                errors (share of requests: 0.1% or 0.001), rps (2xx answers/s)
                         OP     < <= > >=
                       e.g. --threshold 'p99<50ms' --threshold 'errors<0.1%' --threshold 'rps>100'
  --timeseries FILE    write one row a second while it runs: JSON Lines, or CSV for a .csv name
  --report DIR         write DIR/load.html and DIR/load.md: the summary, thresholds and the time
                       series charted (rate and latency over time)
  --json               print the result as JSON instead of the summary
  -h, --help           this help

Non-2xx answers are counted by status and kept out of the latency figures. Exit status: 0 when the
run took place and every threshold passed, ${kThresholdExitCode} when a threshold failed, 1 when the URL
cannot be reached, 2 for bad flags. See docs/load.md.`;

/** Runs `mlscale load`; resolves with the exit code. */
export async function loadCommand(argv: string[]): Promise<number> {
  const v = parseFlags('load', argv, loadFlags);
  if (v.help) {
    process.stdout.write(loadHelp + '\n');
    return 0;
  }
  const { load: options, thresholds, timeseries, report } = await readLoadFlags(v);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const view = progressView(process.stderr);
  const writer = timeseries !== undefined ? new TimeseriesWriter(timeseries) : undefined;
  const series: LoadInterval[] = [];
  try {
    const result = await runLoad({
      ...options,
      onProgress: view.update,
      ...(writer || report !== undefined
        ? {
            onInterval: (s: LoadInterval) => {
              writer?.write(s);
              series.push(s);
            },
          }
        : {}),
      signal: controller.signal,
    });
    view.stop();
    const outcomes = checkThresholds(thresholds, result);
    const summary = formatLoadSummary(result, options, outcomes);
    process.stdout.write(
      v.json
        ? JSON.stringify(
            outcomes.length > 0 ? { ...result, thresholds: outcomesJson(outcomes) } : result,
            null,
            2,
          ) + '\n'
        : summary + '\n',
    );
    if (report !== undefined) {
      // The charts load Vega (about a second): only when a report is asked for.
      const { writeLoadReport } = await import('../analysis/load-report.js');
      const files = await writeLoadReport(report, options.url, summary, result, series, outcomes);
      process.stderr.write(`mlscale load: report ${files.html} (and ${files.markdown})\n`);
    }
    return outcomes.every((o) => o.passed) ? 0 : kThresholdExitCode;
  } finally {
    writer?.close();
    view.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function outcomesJson(outcomes: readonly ThresholdOutcome[]) {
  return outcomes.map((o) => ({
    threshold: o.threshold.text,
    metric: o.threshold.metric,
    actual: o.actual,
    passed: o.passed,
  }));
}

/** The summary `mlscale load` prints when the run ends. */
export function formatLoadSummary(
  r: LoadResult,
  o: LoadOptions,
  outcomes: readonly ThresholdOutcome[] = [],
): string {
  const n = (x: number, digits = 0) =>
    x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const ms = (x: number) => (x >= 100 ? n(x, 0) : x >= 10 ? n(x, 1) : n(x, 2));
  const head =
    r.mode === 'open'
      ? `open loop, ${n(r.offeredRate ?? 0)} requests/s offered${r.profile ? ` on average (${r.profile})` : ''}`
      : `closed loop, ${o.connections ?? d.connections} clients`;
  const lines = [
    `mlscale load: ${head}, ${n(r.durationS, 1)} s measured → ${o.url}`,
    `  requests      ${n(r.requests)} sent (${n(r.sentRate, 1)}/s): ${n(r.ok)} 2xx, ${n(r.errors)} errors`,
    `  throughput    ${n(r.achievedRate, 1)} 2xx responses/s`,
    `  latency (ms)  p50 ${ms(r.latencyMs.p50)}  p90 ${ms(r.latencyMs.p90)}  p95 ${ms(r.latencyMs.p95 ?? 0)}  p99 ${ms(r.latencyMs.p99)}  ` +
      `p99.9 ${ms(r.latencyMs.p999)}  max ${ms(r.latencyMs.max)}  mean ${ms(r.latencyMs.mean)}` +
      (r.ok === 0
        ? '  (no 2xx response)'
        : r.mode === 'open'
          ? '  (from the scheduled send time)'
          : ''),
  ];
  const kinds = Object.entries(r.errorsByKind);
  if (kinds.length > 0)
    lines.push(`  errors        ${kinds.map(([k, c]) => `${k}: ${n(c)}`).join(', ')}`);
  if (r.generatorNote) lines.push(`  note          ${r.generatorNote}`);
  if (outcomes.length > 0) {
    const failed = outcomes.filter((x) => !x.passed).length;
    lines.push(
      `  thresholds    ${failed === 0 ? `all ${outcomes.length} passed` : `${failed} of ${outcomes.length} FAILED (exit ${kThresholdExitCode})`}`,
      ...outcomes.map((x) => `    ${formatOutcome(x)}`),
    );
  }
  return lines.join('\n');
}

/** The live progress line: rewritten in place on a terminal, one line every few seconds otherwise. */
function progressView(stream: NodeJS.WriteStream): {
  update: (p: LoadProgress) => void;
  stop: () => void;
} {
  let shown = false;
  const line = (p: LoadProgress) =>
    `${p.elapsedS.toFixed(0).padStart(4)}s  sent ${p.sent}  done ${p.completed}  2xx/s ${p.currentRate}  ` +
    `p99 ${p.p99Ms.toFixed(1)} ms  errors ${p.errors}`;
  return {
    update(p) {
      if (stream.isTTY) {
        stream.write('\r\x1b[2K' + line(p));
        shown = true;
      } else if (Math.round(p.elapsedS) % kPlainProgressEveryS === 0) {
        stream.write(line(p) + '\n');
      }
    },
    stop() {
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
    },
  };
}
