/**
 * `npm run bench:dashboard`: what the serve dashboard costs a server under load. The same server
 * (a small MLP, one row per request, one process) runs with the dashboard on — its sampler reading
 * the metrics once a second and a browser's event stream open — and with `--no-dashboard`, in
 * alternation, `--repeats` times (default 3); closed-loop load from wrk (or autocannon) in its own
 * process. Reports medians and the on/off ratio.
 *
 * First, the sampler alone: CPU time of one reading (collect the registry as JSON, difference it)
 * on a registry holding 4 models' series with traffic, and that as a share of one core at one
 * reading a second. That figure does not depend on what else the machine runs; the A/B does.
 *
 * Flags: --repeats N, --connections N (32), --duration S (8), --sampler-only.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsSampler } from '../src/dashboard/sampler.js';
import { ServerMetrics } from '../src/serve/metrics.js';
import {
  configureLoad,
  describe,
  fmt,
  inferBody,
  measure,
  mlpBytes,
  startMlscale,
  stop,
  type Load,
} from './serve-kit.js';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1)
    throw new Error(`--${name} must be a positive integer, got ${process.argv[i + 1]}`);
  return v;
}

const repeats = flag('repeats', 3);
const generator = configureLoad({
  connections: flag('connections', 32),
  duration: flag('duration', 8),
});
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

{
  const metrics = new ServerMetrics();
  const sampler = new MetricsSampler({ collect: () => metrics.registry.getMetricsAsJSON() });
  const readings = 2_000;
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < readings; i++) {
    for (let m = 0; m < 4; m++) {
      const labels = { model: `m${m}`, version: '1' };
      metrics.requests.inc({ ...labels, outcome: 'success' }, 100);
      metrics.requestDuration.observe(labels, 0.002 + (i % 10) / 1000);
      metrics.batchSize.observe(labels, 1 + (i % 16));
      metrics.queueDepth.set(labels, i % 7);
    }
    await sampler.sampleNow();
  }
  const wall = (performance.now() - t0) / readings;
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000 / readings;
  console.log(
    `sampler: ${cpuMs.toFixed(3)} ms CPU per reading (${wall.toFixed(3)} ms wall), ${(cpuMs / 10).toFixed(3)}% of one core at one reading a second (${readings} readings, 4 models, default process metrics included)`,
  );
}
if (process.argv.includes('--sampler-only')) process.exit(0);

const dir = await mkdtemp(join(tmpdir(), 'mlscale-bench-dashboard-'));
const width = 64;
await mkdir(join(dir, 'mlp', '1'), { recursive: true });
await writeFile(join(dir, 'mlp', '1', 'model.onnx'), mlpBytes(width, [64], 10));
const body = inferBody(width);
const runs: Record<'on' | 'off', Load[]> = { on: [], off: [] };
try {
  for (let r = 0; r < repeats; r++) {
    // The order alternates, so that a machine getting busier or quieter does not favour one side.
    for (const variant of r % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
      const { url, child } = await startMlscale(dir, [
        '--instances',
        '1',
        ...(variant === 'off' ? ['--no-dashboard'] : []),
      ]);
      // Someone watching: the page's event stream stays open during the run.
      const watcher = new AbortController();
      if (variant === 'on')
        void fetch(`${url}/dashboard/api/events`, { signal: watcher.signal })
          .then((res) => res.body?.pipeTo(new WritableStream()))
          .catch(() => undefined);
      try {
        const l = await measure(`${url}/v2/models/mlp/infer`, body);
        runs[variant].push(l);
        console.log(`round ${r + 1}, dashboard ${variant}: ${describe(l)}`);
      } finally {
        watcher.abort();
        await stop(child);
      }
    }
  }
  const on = { rps: median(runs.on.map((l) => l.rps)), p99: median(runs.on.map((l) => l.p99)) };
  const off = { rps: median(runs.off.map((l) => l.rps)), p99: median(runs.off.map((l) => l.p99)) };
  console.log(
    `\nmedians of ${repeats} (${generator}): dashboard on ${fmt(on.rps)} req/s, p99 ${fmt(on.p99, 1)} ms; off ${fmt(off.rps)} req/s, p99 ${fmt(off.p99, 1)} ms`,
  );
  console.log(
    `throughput on/off ${(on.rps / off.rps).toFixed(3)}, p99 on/off ${(on.p99 / off.p99).toFixed(3)}`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
