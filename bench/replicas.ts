/**
 * `npm run bench:replicas`: horizontal (replicas, processes) against vertical (threads in one
 * process) on this machine, for a light and a heavy model.
 *
 * Every configuration uses the same total number of onnxruntime threads as there are cores, except
 * the 4-replica one, which shows oversubscription: one process with 1 instance of `cores` threads,
 * one process with `cores` instances of 1 thread, `mlscale serve --replicas 1` (the cluster's cost:
 * the primary hands every connection to a replica), `--replicas cores` with 1 thread each, and
 * `--replicas 4` with 1 thread each. Closed-loop load (wrk when on PATH, else autocannon) with one
 * row per request; throughput and p99. Repeats (`--repeats`, default 3) and reports medians;
 * `--quick` runs short, once, without the 4-replica run.
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
  measure,
  mlpBytes,
  startMlscale,
  stop,
  type Load,
} from './serve-kit.js';

const { values: args } = parseArgs({
  options: {
    repeats: { type: 'string' },
    quick: { type: 'boolean' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    generator: { type: 'string' },
  },
});
const quick = args.quick === true;
const repeats = Number(args.repeats ?? (quick ? 1 : 3));
const duration = Number(args.duration ?? (quick ? 3 : 10));
const connections = Number(args.connections ?? 64);
const generator = configureLoad({ connections, duration, generator: args.generator });
const cores = availableParallelism();
const log = (line = '') => process.stdout.write(line + '\n');

interface Config {
  readonly name: string;
  readonly flags: string[];
  /** Replicas to wait for (undefined: a single process). */
  readonly replicas?: number;
}

const configs: Config[] = [
  {
    name: `1 process, 1 instance x ${cores} threads`,
    flags: ['--instances', '1', '--intra-op-threads', String(cores)],
  },
  {
    name: `1 process, ${cores} instances x 1 thread`,
    flags: ['--instances', String(cores), '--intra-op-threads', '1'],
  },
  {
    name: `--replicas 1, 1 instance x ${cores} threads`,
    flags: ['--replicas', '1', '--instances', '1', '--intra-op-threads', String(cores)],
    replicas: 1,
  },
  {
    name: `--replicas ${cores}, 1 instance x 1 thread each`,
    flags: ['--replicas', String(cores), '--instances', '1', '--intra-op-threads', '1'],
    replicas: cores,
  },
  ...(quick || cores === 4
    ? []
    : [
        {
          name: '--replicas 4, 1 instance x 1 thread each',
          flags: ['--replicas', '4', '--instances', '1', '--intra-op-threads', '1'],
          replicas: 4,
        },
      ]),
];

/** Waits until the primary's merged /metrics counts `n` listening replicas. */
async function waitForReplicas(url: string, n: number, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const m = /^mlscale_cluster_replicas (\d+)/m.exec(text);
    if (m && Number(m[1]) >= n) return;
    if (Date.now() > end)
      throw new Error(`${n} replicas were not listening within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main(): Promise<void> {
  log(`# mlscale serve: replicas (processes) against threads — ${new Date().toISOString()}`);
  log(
    `machine: ${cpus()[0]?.model ?? 'cpu'} × ${cores}, node ${process.versions.node}; ${generator} with ${connections} connections, ${duration} s runs; repeats ${repeats} (medians)`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'mlscale-bench-replicas-'));
  try {
    const repo = join(dir, 'repo');
    const models = {
      heavy: { bytes: mlpBytes(256, [2048, 2048, 2048], 10), width: 256 },
      light: { bytes: mlpBytes(64, [256, 256], 10), width: 64 },
    };
    for (const [name, m] of Object.entries(models)) {
      await mkdir(join(repo, name, '1'), { recursive: true });
      await writeFile(join(repo, name, '1', 'model.onnx'), m.bytes);
    }
    const results = new Map<string, Load[]>();
    for (let rep = 1; rep <= repeats; rep++) {
      log(`\n## repeat ${rep}/${repeats}`);
      for (const config of configs) {
        const server = await startMlscale(repo, [
          ...config.flags,
          ...(config.replicas ? ['--spare-replicas', '0'] : []),
        ]);
        try {
          if (config.replicas) await waitForReplicas(server.url, config.replicas);
          for (const [name, m] of Object.entries(models)) {
            const l = await measure(`${server.url}/v2/models/${name}/infer`, inferBody(m.width));
            const key = `${name}\0${config.name}`;
            results.set(key, [...(results.get(key) ?? []), l]);
            log(`${name}, ${config.name}: ${describe(l)}`);
          }
        } finally {
          await stop(server.child);
        }
      }
    }
    log('\n## Summary (medians)');
    log('| model | configuration | requests/s | p99 ms | vs 1 process, 1 instance |');
    log('| --- | --- | --- | --- | --- |');
    for (const name of Object.keys(models)) {
      const base = median((results.get(`${name}\0${configs[0]!.name}`) ?? []).map((l) => l.rps));
      for (const config of configs) {
        const runs = results.get(`${name}\0${config.name}`) ?? [];
        const rps = median(runs.map((l) => l.rps));
        log(
          `| ${name} | ${config.name} | ${fmt(rps)} | ${fmt(median(runs.map((l) => l.p99)), 1)} | ${fmt(rps / base, 2)}x |`,
        );
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
