/**
 * `mlscale sweep serve|pipeline`: run a sweep over a grid of configurations, write its sweep file
 * (`<out>/sweep.json`) and the report (HTML and Markdown) beside it, and print where they are.
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidOptionError } from '../errors.js';
import { advise } from '../analysis/advisor.js';
import { writeReport } from '../analysis/report.js';
import { writeSweepFile } from '../analysis/sweep-file.js';
import { kDefaultPipelineSweepOptions, sweepPipeline } from '../analysis/sweep-pipeline.js';
import { kDefaultServeSweepOptions, sweepServe } from '../analysis/sweep-serve.js';
import type { SweepFile } from '../analysis/sweep-schema.js';
import { numberFlag, parseFlags, textFlag, type FlagSpec } from './args.js';
import { durationFlag } from '../util/duration.js';
import { readBodyFile } from '../analysis/body-file.js';

const s = kDefaultServeSweepOptions;
const p = kDefaultPipelineSweepOptions;

/** `mlscale sweep --help`. */
export const sweepHelp = `Usage: mlscale sweep serve    --model-repository DIR --model NAME [grid] [options]
       mlscale sweep pipeline --data SOURCE --batches N,N,... [grid] [options]

Runs a workload over a grid of configurations, writes OUT/sweep.json (the format is
documented in docs/sweeps.md) and the report (OUT/report.html, OUT/report.md), and prints
their paths. 'mlscale sweep serve --help' and 'mlscale sweep pipeline --help' list the flags.`;

/** `mlscale sweep serve --help`. */
export const sweepServeHelp = `Usage: mlscale sweep serve (--model-repository DIR --model NAME | --model PATH) [options]

For every configuration of the grid (the cartesian product of the lists), starts 'mlscale serve'
on a free loopback port, waits until it is ready, and searches for the highest request rate whose
p99 latency meets the SLO: a closed-loop probe finds the saturation throughput, then open-loop
points step up or down from 0.8x of it until a passing and a failing rate bracket the answer, and
bisection narrows it. Records every point (rate, throughput, p50..max latency, errors), the
maximum rate at the SLO, the mean batch size (from the server's /metrics) and the CPU use of the
server's processes. Stops each server before the next starts.

Model
  --model-repository DIR      a model repository, as 'mlscale serve' takes it
  --model NAME|PATH           the model to load: its name in the repository, or, without
                              --model-repository, an artifact folder or .onnx file; several,
                              comma-separated (digits,digits-int8), are each measured on every
                              configuration, and the others weighed against the first
  --variants LIST             variants of the model to measure beside it, e.g. int8,fp16: the
                              repository's NAME-int8 (from 'mlscale optimize'), or an artifact
                              folder's model.int8.onnx; the report weighs "optimise the model"
                              (speed-up at the SLO, accuracy cost, cost per prediction) against
                              batching and scaling
Grid (comma-separated lists)
  --replicas LIST             serving processes (1 = one plain process)  [${s.replicas.join(',')}]
  --instances LIST            onnxruntime instances per model and process  [${s.instances.join(',')}]
  --max-batch-size LIST       dynamic batching limit, rows (1 = no batching)  [${s.maxBatchSize.join(',')}]
  --max-queue-delay-ms LIST   batching delay, ms or auto  [${s.maxQueueDelayMs.join(',')}]
Load
  --slo-p99-ms MS             the latency objective: p99 at most this  [${s.sloP99Ms}]
  --rows-per-request N        rows in each request (random values shaped by the model's inputs)  [${s.rowsPerRequest}]
  --body-file FILE            send these requests in turn instead (JSON Lines, one Open Inference
                              Protocol request per line, each checked; see docs/load.md); say their
                              rows with --rows-per-request
  --point-duration TIME       length of each load point: 5s, 500ms, or seconds  [${s.pointDurationMs / 1000}s]
  --warmup TIME               unmeasured load before each point  [${s.warmupMs / 1000}s]
  --max-points N              open-loop points per configuration after the probe  [${s.maxPoints}]
  --probe-connections N       connections of the closed-loop probe  [${s.probeConnections}]
  --error-allowance SHARE     share of a point's requests that may fail and it still pass  [${s.errorAllowance}]
  --intra-op-threads N        onnxruntime threads per instance, the same in every configuration
                              [cores (${availableParallelism()} here) / the largest replicas x instances, at least 1]
Output
  --out DIR                   where sweep.json and the report go  [reports/serve]
  -h, --help                  this help

A sweep takes at most configurations x models x (1 + max points) x (point + warm-up), plus
start-ups: the first line it prints says how long.`;

/** `mlscale sweep pipeline --help`. */
export const sweepPipelineHelp = `Usage: mlscale sweep pipeline --data SOURCE --batches LIST [options]

Runs the training pipeline (fit, train, evaluate) once per pair of the grid, each time on the
first batches x batch-size rows of the data, on a fresh executor, and records the wall time of the
run and of each phase.

  --data SOURCE         as 'mlscale train' takes it: file.csv, file.jsonl,
                        synthetic:rows=N,features=F, sample:digits
  --label COLUMN        the column to predict (synthetic and sample data know theirs)
  --batches LIST        data sizes, as numbers of batches, e.g. 10,100,1000
  --workers LIST        executor workers: threads, or bullmq worker processes; 1 for inline  [1,cores]
  --executor KIND       inline | threads | bullmq  [${p.executor}]
  --redis URL           bullmq: the queue's Redis; the sweep starts --workers 'mlscale worker'
                        processes on this machine against it, and removes its keys at the end
  --batch-size ROWS     rows per batch  [rows of the data / the largest --batches]
  --repeats N           runs per grid point  [${p.repeats}]
  --statistic WHICH     the repeat each point records: median (the typical run) or fastest
                        (the least disturbed by other work on a shared machine)  [${p.statistic}]
  --epochs N            training epochs per run  [${p.epochs}]
  --model FAMILY        linear | mlp  [${p.model}]
  --out DIR             where sweep.json and the report go  [reports/pipeline]
  -h, --help            this help`;

const serveFlags: FlagSpec = {
  'model-repository': { type: 'string' },
  model: { type: 'string' },
  variants: { type: 'string' },
  replicas: { type: 'string' },
  instances: { type: 'string' },
  'max-batch-size': { type: 'string' },
  'max-queue-delay-ms': { type: 'string' },
  'intra-op-threads': { type: 'string' },
  'slo-p99-ms': { type: 'string' },
  'rows-per-request': { type: 'string' },
  'body-file': { type: 'string' },
  'point-duration': { type: 'string' },
  warmup: { type: 'string' },
  'max-points': { type: 'string' },
  'probe-connections': { type: 'string' },
  'error-allowance': { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const pipelineFlags: FlagSpec = {
  data: { type: 'string' },
  label: { type: 'string' },
  batches: { type: 'string' },
  workers: { type: 'string' },
  executor: { type: 'string' },
  redis: { type: 'string' },
  'batch-size': { type: 'string' },
  repeats: { type: 'string' },
  statistic: { type: 'string' },
  epochs: { type: 'string' },
  model: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** Where a sweep went. */
export interface SweepOutput {
  readonly sweepFile: string;
  readonly html: string;
  readonly markdown: string;
}

/** Runs `mlscale sweep`; resolves with the exit code. */
export async function sweepCommand(argv: string[]): Promise<number> {
  const [kind, ...rest] = argv;
  if (kind === undefined || kind === '--help' || kind === '-h' || kind === 'help') {
    process.stdout.write(sweepHelp + '\n');
    return kind === undefined ? 2 : 0;
  }
  if (kind !== 'serve' && kind !== 'pipeline') {
    throw new InvalidOptionError(
      `mlscale sweep: unknown sweep "${kind}"; sweeps: serve, pipeline (see mlscale sweep --help)`,
    );
  }
  const v = parseFlags(`sweep ${kind}`, rest, kind === 'serve' ? serveFlags : pipelineFlags);
  if (v.help) {
    process.stdout.write((kind === 'serve' ? sweepServeHelp : sweepPipelineHelp) + '\n');
    return 0;
  }
  const out = textFlag(v.out) ?? `reports/${kind}`;
  const say = (line: string): void => void process.stderr.write(line + '\n');
  if (kind === 'pipeline') {
    // No signal handling: Ctrl-C ends the process and its executor threads with it.
    const sweep = await sweepPipeline({ ...pipelineOptionsFromFlags(v), onProgress: say });
    printOutput(await writeSweepAndReport(out, sweep));
    return 0;
  }
  // A serve sweep has a server child: on Ctrl-C or SIGTERM, stop it before exiting.
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const bodyFile = textFlag(v['body-file']);
    const sweep = await sweepServe({
      ...serveOptionsFromFlags(v),
      ...(bodyFile !== undefined ? { bodies: await readBodyFile(bodyFile) } : {}),
      onProgress: say,
      signal: controller.signal,
    });
    printOutput(await writeSweepAndReport(out, sweep));
    return 0;
  } catch (err) {
    if (!controller.signal.aborted) throw err;
    process.stderr.write(
      'mlscale sweep: interrupted; the server under test was stopped and nothing was written\n',
    );
    return 130;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** Writes `<out>/sweep.json` and the report of this one sweep. */
export async function writeSweepAndReport(out: string, sweep: SweepFile): Promise<SweepOutput> {
  const sweepFile = await writeSweepFile(out, sweep);
  const { html, markdown } = await writeReport(out, [sweep], advise([sweep]));
  return { sweepFile, html, markdown };
}

/** Prints where a sweep's files are, the report as a file:// URL to open in a browser. */
export function printOutput(
  written: SweepOutput,
  stream: NodeJS.WritableStream = process.stdout,
): void {
  stream.write(
    `sweep file: ${resolve(written.sweepFile)}\nreport:     ${pathToFileURL(resolve(written.html)).href}\nmarkdown:   ${resolve(written.markdown)}\n`,
  );
}

/** Serve sweep options from flags (validated by the sweep itself). */
export function serveOptionsFromFlags(
  v: Record<string, string | boolean | undefined>,
): Parameters<typeof sweepServe>[0] {
  return {
    modelRepository: textFlag(v['model-repository']),
    model: textFlag(v.model),
    variants:
      typeof v.variants === 'string' ? v.variants.split(',').map((x) => x.trim()) : undefined,
    replicas: listFlag(v.replicas) as number[] | undefined,
    instances: listFlag(v.instances) as number[] | undefined,
    maxBatchSize: listFlag(v['max-batch-size']) as number[] | undefined,
    maxQueueDelayMs: listFlag(v['max-queue-delay-ms']) as (number | 'auto')[] | undefined,
    intraOpThreads: numberFlag(v['intra-op-threads']),
    sloP99Ms: numberFlag(v['slo-p99-ms']),
    rowsPerRequest: numberFlag(v['rows-per-request']),
    pointDurationMs: durationFlag('--point-duration', v['point-duration']),
    warmupMs: durationFlag('--warmup', v.warmup, { zeroAllowed: true }),
    maxPoints: numberFlag(v['max-points']),
    probeConnections: numberFlag(v['probe-connections']),
    errorAllowance: numberFlag(v['error-allowance']),
  } as Parameters<typeof sweepServe>[0];
}

/** Pipeline sweep options from flags (validated by the sweep itself). */
export function pipelineOptionsFromFlags(
  v: Record<string, string | boolean | undefined>,
): Parameters<typeof sweepPipeline>[0] {
  return {
    data: textFlag(v.data),
    label: textFlag(v.label),
    batches: listFlag(v.batches) as number[] | undefined,
    workers: listFlag(v.workers) as number[] | undefined,
    executor: textFlag(v.executor) as 'inline' | 'threads' | 'bullmq' | undefined,
    redis: textFlag(v.redis),
    batchSize: numberFlag(v['batch-size']),
    repeats: numberFlag(v.repeats),
    statistic: textFlag(v.statistic) as 'median' | 'fastest' | undefined,
    epochs: numberFlag(v.epochs),
    model: textFlag(v.model) as 'linear' | 'mlp' | undefined,
  } as Parameters<typeof sweepPipeline>[0];
}

/**
 * A list flag's entries: numbers where they are numbers, the text otherwise, so that the grid's
 * validation can name a bad entry ("got \"two\"") or accept a word it allows ("auto").
 */
function listFlag(value: string | boolean | undefined): (number | string)[] | undefined {
  if (typeof value !== 'string') return undefined;
  return value.split(',').map((part) => {
    const t = part.trim();
    const n = t === '' ? NaN : Number(t);
    return Number.isFinite(n) ? n : t;
  });
}
