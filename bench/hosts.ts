/**
 * `npm run bench:hosts`: predictions checked against measurement. Each prediction is made from
 * the one-worker (one-replica) measurement, then the larger configurations are measured:
 *
 * - `threads`: pipeline, threads executor on this machine: 1 worker → 2;
 * - `hosts`: pipeline, bullmq executor across simulated hosts (bench/hosts-kit.ts: network
 *   namespaces on a bridge of their own, each a cgroup CPU quota of `--host-cpus`, default 0.6
 *   CPU, handed out per `--period-ms`, default 10), one `mlscale worker` per host, Redis on the
 *   bridge, the driver on this machine: 1 host → 2 → 3;
 * - `serve`: one `mlscale serve` per host of `--serve-cpus` (default 0.5), nginx and `mlscale
 *   load` on this machine: 1 replica → 2 (bench/hosts-serve.ts).
 *
 * `--only threads,hosts,serve` picks parts (default all). The pipeline prediction is the advisor's
 * model (src/analysis/pipeline-model.ts) from the one-worker run's phases; the simple
 * T_k = D + W/k (D = T₁ − W, W the summed task time) is shown beside it. Serving: the advisor's
 * `predictMachines` (2 × one). Target: within 15%. Skips the host parts, saying why, without root
 * or `ip netns`. Cleans up (namespaces, cgroups, Redis, workers, replicas, nginx) also on failure
 * or Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { median } from '../src/analysis/fit.js';
import { forecastPipeline } from '../src/analysis/pipeline-model.js';
import { sweepPipeline } from '../src/analysis/sweep-pipeline.js';
import type { PipelinePoint } from '../src/analysis/sweep-schema.js';
import { serveOnHosts } from './hosts-serve.js';
import { createHosts, hostsSupport, kDefaultPeriodUs, type SimHosts } from './hosts-kit.js';

const { values: args } = parseArgs({
  options: {
    repeats: { type: 'string' },
    batches: { type: 'string' },
    'batch-size': { type: 'string' },
    'host-cpus': { type: 'string' },
    hosts: { type: 'string' },
    'period-ms': { type: 'string' },
    only: { type: 'string' },
    'thread-batches': { type: 'string' },
    'serve-cpus': { type: 'string' },
    'serve-seconds': { type: 'string' },
    'serve-warmup': { type: 'string' },
    'serve-rows': { type: 'string' },
    connections: { type: 'string' },
  },
});
const repeats = Number(args.repeats ?? 3);
const batches = Number(args.batches ?? 200);
const batchSize = Number(args['batch-size'] ?? 2000);
const hostCpus = Number(args['host-cpus'] ?? 0.6);
const hostCount = Number(args.hosts ?? 3);
const periodUs = Math.round(Number(args['period-ms'] ?? kDefaultPeriodUs / 1000) * 1000);
const parts = new Set((args.only ?? 'threads,hosts,serve').split(','));
// Threads runs are short (a second for 200 batches): more batches keep start-up and noise small.
const threadBatches = Number(args['thread-batches'] ?? batches * 4);
const serveCpus = Number(args['serve-cpus'] ?? 0.5);
const dataFor = (n: number) => `synthetic:rows=${n * batchSize},features=32`;
const log = (line = '') => process.stdout.write(line + '\n');
const kTolerance = 0.15;

interface Row {
  readonly what: string;
  readonly n: number;
  readonly predicted: number;
  readonly measured: number;
  /** The simple model's prediction, T_k = D + W/k, where there is one. */
  readonly simple?: number;
}

const rate = (p: PipelinePoint) => p.rows / p.seconds;

/** rows/s at k workers by the simple model: T_k = (T₁ − W) + W/k (for comparison). */
function simple(one: PipelinePoint, k: number): number {
  const w = Math.min(one.taskSeconds ?? 0, one.seconds);
  return one.rows / (one.seconds - w + w / k);
}

/** rows/s at k workers by the advisor's model (src/analysis/pipeline-model.ts). */
function predict(one: PipelinePoint, k: number, sharedCpus?: number): number {
  const f = forecastPipeline(one, { workers: k, ...(sharedCpus ? { sharedCpus } : {}) });
  if (!f) throw new Error('the one-worker point has no phases: rebuild');
  log(`  predicted ${k}: ${f.seconds.toFixed(2)} s — ${f.basis}`);
  return f.rowsPerSecond;
}

async function point(
  executor: 'threads' | 'bullmq',
  workers: number,
  extra: Record<string, unknown> = {},
  n = batches,
): Promise<PipelinePoint> {
  const sweep = await sweepPipeline({
    data: dataFor(n),
    batches: [n],
    workers: [workers],
    executor,
    batchSize,
    repeats: 1,
    epochs: 1,
    model: 'mlp',
    ...extra,
  });
  const p = sweep.points[0]!;
  log(
    `  ${executor} × ${workers}: ${p.seconds.toFixed(2)} s, driver busy ${p.driverSeconds?.toFixed(2)} s — ${detail(p)}`,
  );
  return p;
}

/**
 * Runs `run(k)` for every k, `repeats` times over, the ks taken in turn (1, 2, 3, 1, 2, 3, …) so
 * that a slow minute of this shared machine hits every k alike, not one; returns each k's run of
 * median time.
 */
async function interleaved(
  ks: readonly number[],
  run: (k: number) => Promise<PipelinePoint>,
): Promise<PipelinePoint[]> {
  const runs = ks.map(() => [] as PipelinePoint[]);
  for (let r = 0; r < repeats; r++) for (const [i, k] of ks.entries()) runs[i]!.push(await run(k));
  return runs.map((rs) => {
    const sorted = [...rs].sort((a, b) => a.seconds - b.seconds);
    return sorted[Math.floor((sorted.length - 1) / 2)]!;
  });
}

/** Where one point's time went, phase by phase: wall, in map calls, in tasks (of it reading batches) (s), tasks / maps. */
function detail(p: PipelinePoint): string {
  const ph = p.phases;
  if (!ph) return '';
  return (['fit', 'train', 'evaluate'] as const)
    .map((k) => {
      const d = ph[k];
      return `${k} ${d.seconds.toFixed(2)}/${d.mapSeconds.toFixed(2)}/${d.taskSeconds.toFixed(2)} (read ${d.readSeconds?.toFixed(2)}) s ${d.tasks}/${d.maps}`;
    })
    .join('; ');
}

/** The machine's busy and total CPU time so far (/proc/stat, clock ticks). */
function machineCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - (f[4] ?? 0), total };
}

/** A process's CPU time so far (s), from /proc. */
function processCpu(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** The hosts' CFS throttling so far: periods throttled and time throttled (ns), summed. */
function throttling(h: SimHosts): { periods: number; ns: number } {
  let periods = 0;
  let ns = 0;
  for (const host of h.hosts) {
    const stat = readFileSync(join(host.cgroup, 'cpu.stat'), 'utf8');
    periods += Number(/nr_throttled (\d+)/.exec(stat)?.[1] ?? 0);
    ns += Number(/throttled_time (\d+)/.exec(stat)?.[1] ?? 0);
  }
  return { periods, ns };
}

function table(rows: readonly Row[]): void {
  log('| configuration | N | predicted (from N = 1) | measured | error | simple D + W/k, error |');
  log('| --- | --- | --- | --- | --- | --- |');
  const e = (measured: number, predicted: number) => {
    const err = (measured - predicted) / predicted;
    return `${err >= 0 ? '+' : ''}${(err * 100).toFixed(1)}%`;
  };
  for (const r of rows) {
    const err = (r.measured - r.predicted) / r.predicted;
    log(
      `| ${r.what} | ${r.n} | ${Math.round(r.predicted)} | ${Math.round(r.measured)} | ${e(r.measured, r.predicted)} ${Math.abs(err) <= kTolerance ? '(within 15%)' : '(outside 15%)'} | ${r.simple !== undefined ? `${Math.round(r.simple)}, ${e(r.measured, r.simple)}` : ''} |`,
    );
  }
}

async function main(): Promise<void> {
  log(`# Predictions against measurement — ${new Date().toISOString()}`);
  log(
    `pipeline: synthetic rows × 32 features, batches of ${batchSize} rows (threads ${threadBatches}, hosts ${batches}), 1 epoch, mlp; median of ${repeats} runs per point, the worker counts in turn`,
  );
  const rows: Row[] = [];

  if (parts.has('threads')) {
    const [t1, t2] = (await interleaved([1, 2], (k) => point('threads', k, {}, threadBatches))) as [
      PipelinePoint,
      PipelinePoint,
    ];
    rows.push({
      what: 'threads executor, this machine',
      n: 1,
      predicted: rate(t1),
      measured: rate(t1),
    });
    rows.push({
      what: 'threads executor, this machine',
      n: 2,
      predicted: predict(t1, 2, availableParallelism()),
      measured: rate(t2),
      simple: simple(t1, 2),
    });
  }

  const why = hostsSupport();
  if (why) {
    log(`hosts: skipped — ${why}`);
  } else if (parts.has('hosts')) {
    let hosts: SimHosts | undefined;
    let redis: ChildProcess | undefined;
    const cleanup = () => {
      redis?.kill('SIGKILL');
      hosts?.teardown();
    };
    process.once('SIGINT', () => {
      cleanup();
      process.exit(130);
    });
    try {
      hosts = createHosts(hostCount, hostCpus, String(process.pid % 10000), '10.200.0', periodUs);
      const port = 6391;
      redis = spawn(
        'redis-server',
        [
          '--bind',
          hosts.gateway,
          '--port',
          String(port),
          '--save',
          '',
          '--appendonly',
          'no',
          // bound to the bridge only; protected mode would refuse the namespaces' clients
          '--protected-mode',
          'no',
        ],
        { stdio: 'ignore' },
      );
      await new Promise((r) => setTimeout(r, 500));
      const url = `redis://${hosts.gateway}:${port}`;
      const h = hosts;
      const launchWorker = (i: number, argv: string[]) => h.wrap(i, argv);
      const ks = Array.from({ length: hostCount }, (_, i) => i + 1);
      const measured = await interleaved(ks, async (k) => {
        const before = throttling(h);
        const machineBefore = machineCpu();
        const redisBefore = processCpu(redis!.pid!);
        const driverBefore = process.cpuUsage();
        const t0 = performance.now();
        const p = await point('bullmq', k, { redis: url, launchWorker });
        const wall = (performance.now() - t0) / 1000;
        const after = throttling(h);
        const machine = machineCpu();
        const driver = process.cpuUsage(driverBefore);
        log(
          `    ${k} × ${hostCpus} CPU: ${Math.round(rate(p))} rows/s; throttled ${after.periods - before.periods} periods, ${((after.ns - before.ns) / 1e9).toFixed(2)} s; machine ${(((machine.busy - machineBefore.busy) / (machine.total - machineBefore.total)) * availableParallelism()).toFixed(2)} CPUs busy, driver ${((driver.user + driver.system) / 1e6 / wall).toFixed(2)}, Redis ${((processCpu(redis!.pid!) - redisBefore) / wall).toFixed(2)} (warm-up included)`,
        );
        return p;
      });
      const one = measured[0]!;
      for (const [i, p] of measured.entries())
        rows.push({
          what: `bullmq, 1 worker per host of ${hostCpus} CPU`,
          n: i + 1,
          predicted: i === 0 ? rate(one) : predict(one, i + 1),
          measured: rate(p),
          ...(i === 0 ? {} : { simple: simple(one, i + 1) }),
        });
    } finally {
      cleanup();
    }
  }
  if (!why && parts.has('serve')) {
    const serve = await serveOnHosts({
      hostCpus: serveCpus,
      periodUs,
      repeats,
      seconds: Number(args['serve-seconds'] ?? 15),
      // A replica climbs for its first seconds (onnxruntime, the JIT, the batching delay's fit).
      warmupSeconds: Number(args['serve-warmup'] ?? 5),
      connections: Number(args.connections ?? 32),
      rows: Number(args['serve-rows'] ?? 16),
      log,
    });
    for (const r of serve)
      rows.push({
        what: `serve, 1 replica per host of ${serveCpus} CPU, nginx (req/s, p99 ${r.p99Ms.toFixed(0)} ms)`,
        n: r.replicas,
        predicted: r.predicted,
        measured: r.measured,
      });
  }
  log('\n## Summary');
  table(rows);
  const errs = rows.filter((r) => r.n > 1).map((r) => Math.abs(r.measured / r.predicted - 1));
  if (errs.length > 0)
    log(`\nmedian |error| over predicted points: ${(median(errs) * 100).toFixed(1)}%`);
}

await main();
