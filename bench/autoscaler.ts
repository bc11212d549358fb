/**
 * `npm run bench:autoscaler`: does the autoscaler lose throughput by scaling past its host's cores?
 * The heavy model (MLP 256-2048-2048-2048-10) under 64 closed-loop connections, served by
 * `mlscale serve --replicas auto --max-replicas 3` on this machine, against the limit measured in
 * the same run: `--replicas <cores>` fixed (one replica per core, the bound the autoscaler now
 * keeps). With `--before DIR` (an older mlscale build, e.g. `git archive afa5bce | tar -x -C DIR`,
 * built), the same autoscaled run on it too: the autoscaler that went to 3 replicas on 2 cores.
 *
 * Each run: start, a warm-up of `--warmup` seconds under the load (the autoscaler decides during
 * it), then `--duration` seconds measured; the replicas listening and the host-saturated gauge are
 * read from /metrics after it. Repeats (default 3) and reports medians and ratios.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from '../src/analysis/fit.js';
import {
  configureLoad,
  describe,
  fmt,
  inferBody,
  load,
  mlpBytes,
  startMlscale,
  stop,
  type Load,
} from './serve-kit.js';

const { values: args } = parseArgs({
  options: {
    repeats: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    before: { type: 'string' },
  },
});
const repeats = Number(args.repeats ?? 3);
const duration = Number(args.duration ?? 10);
const warmup = Number(args.warmup ?? 12);
const connections = Number(args.connections ?? 64);
const generator = configureLoad({ connections, duration });
const cores = availableParallelism();
const log = (line = '') => process.stdout.write(line + '\n');

interface Run {
  readonly name: string;
  readonly flags: string[];
  readonly root?: string;
}

const runs: Run[] = [
  {
    name: `--replicas auto --max-replicas 3 (this build)`,
    flags: ['--replicas', 'auto', '--max-replicas', '3'],
  },
  ...(args.before
    ? [
        {
          name: `--replicas auto --max-replicas 3 (before: ${args.before})`,
          flags: ['--replicas', 'auto', '--max-replicas', '3'],
          root: args.before,
        },
      ]
    : []),
  {
    name: `--replicas ${cores} fixed, 1 instance x 1 thread each (the limit)`,
    flags: ['--replicas', String(cores), '--instances', '1', '--intra-op-threads', '1'],
  },
];

async function gauges(url: string): Promise<{ replicas: number; saturated: number | null }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const g = (name: string) => {
    const m = new RegExp(`^${name} ([\\d.]+)`, 'm').exec(text);
    return m ? Number(m[1]) : null;
  };
  return {
    replicas: g('mlscale_cluster_replicas') ?? NaN,
    saturated: g('mlscale_autoscaler_host_saturated'),
  };
}

async function main(): Promise<void> {
  log(`# mlscale serve --replicas auto on its host — ${new Date().toISOString()}`);
  log(
    `machine: ${cpus()[0]?.model ?? 'cpu'} × ${cores}, node ${process.versions.node}; ${generator} with ${connections} connections, ${warmup} s warm-up then ${duration} s measured; repeats ${repeats} (medians)`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'mlscale-bench-autoscaler-'));
  try {
    const repo = join(dir, 'repo');
    await mkdir(join(repo, 'heavy', '1'), { recursive: true });
    await writeFile(join(repo, 'heavy', '1', 'model.onnx'), mlpBytes(256, [2048, 2048, 2048], 10));
    const body = inferBody(256);
    const results = new Map<string, { load: Load; replicas: number; saturated: number | null }[]>();
    for (let rep = 1; rep <= repeats; rep++) {
      log(`\n## repeat ${rep}/${repeats}`);
      for (const r of runs) {
        const server = await startMlscale(repo, [...r.flags, '--spare-replicas', '0'], r.root);
        try {
          const url = `${server.url}/v2/models/heavy/infer`;
          await load(url, body, warmup);
          const l = await load(url, body, duration);
          const g = await gauges(server.url);
          results.set(r.name, [...(results.get(r.name) ?? []), { load: l, ...g }]);
          log(
            `${r.name}: ${describe(l)}; ${g.replicas} replicas after${g.saturated !== null ? `, host saturated ${g.saturated}` : ''}`,
          );
        } finally {
          await stop(server.child);
        }
      }
    }
    const limit = median(results.get(runs.at(-1)!.name)!.map((x) => x.load.rps));
    log('\n## Summary (medians)');
    log('| configuration | replicas after | requests/s | p99 ms | vs the limit |');
    log('| --- | --- | --- | --- | --- |');
    for (const r of runs) {
      const xs = results.get(r.name)!;
      const rps = median(xs.map((x) => x.load.rps));
      log(
        `| ${r.name} | ${xs.map((x) => x.replicas).join(', ')} | ${fmt(rps)} | ${fmt(median(xs.map((x) => x.load.p99)), 1)} | ${fmt(rps / limit, 2)}x |`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
