/**
 * `npm run bench:hosts`: predictions checked against measurement. The prediction is made from one
 * (one worker thread, one host) and the larger configurations are then measured:
 *
 * - pipeline, threads executor on this machine: 1 worker → 2;
 * - pipeline, bullmq executor across simulated hosts (bench/hosts-kit.ts: network namespaces on a
 *   bridge of their own, each a cgroup CPU quota of `--host-cpus`, default 0.6 CPU), one
 *   `mlscale worker` per host, Redis on the bridge, the driver on this machine: 1 host → 2 → 3.
 *
 * The prediction from one run: its wall time T₁ splits into the executor's tasks W (summed task
 * time, the part workers share) and the rest D = T₁ − W (the driver, queueing, start-up), so
 * T_k = D + W/k and rows/s = rows / T_k. Target: within 15% of the measurement. Skips the hosts
 * part, saying why, without root or `ip netns`. Cleans up (namespaces, cgroups, Redis, workers)
 * also on failure or Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { median } from '../src/analysis/fit.js';
import { sweepPipeline } from '../src/analysis/sweep-pipeline.js';
import type { PipelinePoint } from '../src/analysis/sweep-schema.js';
import { createHosts, hostsSupport, type SimHosts } from './hosts-kit.js';

const { values: args } = parseArgs({
  options: {
    repeats: { type: 'string' },
    batches: { type: 'string' },
    'batch-size': { type: 'string' },
    'host-cpus': { type: 'string' },
    hosts: { type: 'string' },
  },
});
const repeats = Number(args.repeats ?? 3);
const batches = Number(args.batches ?? 200);
const batchSize = Number(args['batch-size'] ?? 2000);
const hostCpus = Number(args['host-cpus'] ?? 0.6);
const hostCount = Number(args.hosts ?? 3);
const data = `synthetic:rows=${batches * batchSize},features=32`;
const log = (line = '') => process.stdout.write(line + '\n');
const kTolerance = 0.15;

interface Row {
  readonly what: string;
  readonly n: number;
  readonly predicted: number;
  readonly measured: number;
}

const rate = (p: PipelinePoint) => p.rows / p.seconds;

/** rows/s at k workers from the one-worker point: T_k = (T₁ − W) + W/k. */
function predict(one: PipelinePoint, k: number): number {
  const w = Math.min(one.taskSeconds ?? 0, one.seconds);
  return one.rows / (one.seconds - w + w / k);
}

async function point(
  executor: 'threads' | 'bullmq',
  workers: number,
  extra: Record<string, unknown> = {},
): Promise<PipelinePoint> {
  const sweep = await sweepPipeline({
    data,
    batches: [batches],
    workers: [workers],
    executor,
    batchSize,
    repeats,
    epochs: 1,
    model: 'mlp',
    ...extra,
  });
  return sweep.points[0]!;
}

function table(rows: readonly Row[]): void {
  log('| configuration | N | predicted rows/s (from N = 1) | measured rows/s | error |');
  log('| --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const err = (r.measured - r.predicted) / r.predicted;
    log(
      `| ${r.what} | ${r.n} | ${Math.round(r.predicted)} | ${Math.round(r.measured)} | ${err >= 0 ? '+' : ''}${(err * 100).toFixed(1)}% ${Math.abs(err) <= kTolerance ? '(within 15%)' : '(outside 15%)'} |`,
    );
  }
}

async function main(): Promise<void> {
  log(`# Predictions against measurement — ${new Date().toISOString()}`);
  log(
    `pipeline: ${data}, ${batches} batches of ${batchSize} rows, 1 epoch, mlp; median of ${repeats} per point`,
  );
  const rows: Row[] = [];

  const t1 = await point('threads', 1);
  const t2 = await point('threads', 2);
  rows.push({
    what: 'threads executor, this machine',
    n: 1,
    predicted: rate(t1),
    measured: rate(t1),
  });
  rows.push({
    what: 'threads executor, this machine',
    n: 2,
    predicted: predict(t1, 2),
    measured: rate(t2),
  });
  log(
    `threads: 1 → ${Math.round(rate(t1))} rows/s (tasks ${t1.taskSeconds?.toFixed(2)} s of ${t1.seconds.toFixed(2)} s); 2 → ${Math.round(rate(t2))}`,
  );

  const why = hostsSupport();
  if (why) {
    log(`hosts: skipped — ${why}`);
  } else {
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
      hosts = createHosts(hostCount, hostCpus, String(process.pid % 10000), '10.200.0');
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
      const measured: PipelinePoint[] = [];
      for (let k = 1; k <= hostCount; k++) {
        measured.push(await point('bullmq', k, { redis: url, launchWorker }));
        log(`hosts: ${k} × ${hostCpus} CPU → ${Math.round(rate(measured.at(-1)!))} rows/s`);
      }
      const one = measured[0]!;
      for (const [i, p] of measured.entries())
        rows.push({
          what: `bullmq, 1 worker per host of ${hostCpus} CPU`,
          n: i + 1,
          predicted: i === 0 ? rate(one) : predict(one, i + 1),
          measured: rate(p),
        });
    } finally {
      cleanup();
    }
  }
  log('\n## Summary');
  table(rows);
  const errs = rows.filter((r) => r.n > 1).map((r) => Math.abs(r.measured / r.predicted - 1));
  if (errs.length > 0)
    log(`\nmedian |error| over predicted points: ${(median(errs) * 100).toFixed(1)}%`);
}

await main();
