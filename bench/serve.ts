/**
 * `npm run bench:serve`: the model server against its limits, side by side in one run.
 *
 * - compute limit: raw onnxruntime-node in this process, batch 64 (the server's batch size), on a
 *   compute-heavy MLP 256-2048-2048-2048-10 (~18 MFLOP a row) — against `mlscale serve` at one row
 *   per request, 64 connections;
 * - HTTP limit: a bare Fastify server answering a same-size JSON body — against `mlscale serve` on a
 *   light MLP 64-256-256-10;
 * - dynamic batching against none (`--max-batch-size 0`) on the heavy model;
 * - latency p50/p99 at 50% and 80% of the heavy model's measured maximum throughput.
 *
 * Servers and the load generator (wrk when on PATH, else autocannon; autocannon for fixed-rate runs) run as separate processes; everything shares this
 * 2-core machine, as a load generator on the same host would. Repeats (`--repeats`, default 3) and
 * reports medians; `--quick` runs short and once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { median } from '../src/bench/fit.js';
import { configureLoad, describe, fmt, freePort, inferBody, measure, mlpBytes, root, startMlscale, stop, type Load } from './serve-kit.js';

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
const duration = Number(args.duration ?? (quick ? 4 : 10));
const connections = Number(args.connections ?? 64);
const cores = availableParallelism();
// wrk (C) takes less CPU per request than autocannon (JS), leaving more of this shared machine to
// the servers measured; it cannot hold a fixed rate, so autocannon runs the latency-at-rate runs.
const generator = configureLoad({ connections, duration, generator: args.generator });
const log = (line = '') => process.stdout.write(line + '\n');

async function startBare(responseFile: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'dist/bench/bare-fastify.js'), String(port), responseFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`bare Fastify exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

/** Raw onnxruntime-node rows/s at a batch size: one session with every core, run back to back. */
async function rawOrt(bytes: Uint8Array, width: number, batch: number): Promise<number> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: cores, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const data = new Float32Array(batch * width).map((_, i) => ((i * 7919) % 2000) / 1000 - 1);
  const feeds = { x: new ort.Tensor('float32', data, [batch, width]) };
  for (let i = 0; i < 5; i++) await session.run(feeds);
  let rows = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < duration * 1000) {
    await session.run(feeds);
    rows += batch;
  }
  const rps = rows / ((performance.now() - t0) / 1000);
  await session.release();
  return rps;
}

async function main(): Promise<void> {
  log(`# mlscale serve benchmark — ${new Date().toISOString()}`);
  log(`machine: ${cpus()[0]?.model ?? 'cpu'} × ${cores}, node ${process.versions.node}; ${generator} with ${connections} connections (autocannon at fixed rates), ${duration} s runs; repeats ${repeats} (medians)`);
  const dir = await mkdtemp(join(tmpdir(), 'mlscale-bench-serve-'));
  try {
    const heavy = mlpBytes(256, [2048, 2048, 2048], 10);
    const light = mlpBytes(64, [256, 256], 10);
    const repo = join(dir, 'repo');
    for (const [name, bytes] of [['heavy', heavy], ['light', light]] as const) {
      await mkdir(join(repo, name, '1'), { recursive: true });
      await writeFile(join(repo, name, '1', 'model.onnx'), bytes);
    }
    const heavyBody = inferBody(256);
    const lightBody = inferBody(64);
    const results: Record<string, number[]> = {};
    const keep = (key: string, v: number) => (results[key] ??= []).push(v);
    const latencies: Record<string, Load[]> = {};

    for (let rep = 1; rep <= repeats; rep++) {
      log(`\n## repeat ${rep}/${repeats}`);
      const raw64 = await rawOrt(heavy, 256, 64);
      const raw1 = await rawOrt(heavy, 256, 1);
      keep('raw64', raw64);
      keep('raw1', raw1);
      log(`raw onnxruntime heavy: batch 64 ${fmt(raw64)} rows/s, batch 1 ${fmt(raw1)} rows/s (${cores} intra-op threads)`);

      let server = await startMlscale(repo, []);
      const heavyUrl = `${server.url}/v2/models/heavy/infer`;
      const batched = await measure(heavyUrl, heavyBody);
      keep('batched', batched.rps);
      log(`mlscale heavy, dynamic batching (defaults: adaptive delay): ${describe(batched)}`);
      for (const fraction of [0.5, 0.8]) {
        const l = await measure(heavyUrl, heavyBody, batched.rps * fraction);
        (latencies[String(fraction)] ??= []).push(l);
        log(`mlscale heavy at ${fraction * 100}% of max (${fmt(batched.rps * fraction)} req/s offered): ${describe(l)}`);
      }
      const lightLoad = await measure(`${server.url}/v2/models/light/infer`, lightBody);
      keep('light', lightLoad.rps);
      log(`mlscale light: ${describe(lightLoad)}`);
      const sample = await (await fetch(`${server.url}/v2/models/light/infer`, { method: 'POST', body: lightBody, headers: { 'content-type': 'application/json' } })).text();
      await stop(server.child);

      server = await startMlscale(repo, ['--max-queue-delay-ms', '2']);
      const fixed = await measure(`${server.url}/v2/models/heavy/infer`, heavyBody);
      keep('fixed', fixed.rps);
      log(`mlscale heavy, --max-queue-delay-ms 2 (fixed, Triton-style): ${describe(fixed)}`);
      await stop(server.child);

      server = await startMlscale(repo, ['--max-batch-size', '0']);
      const unbatched = await measure(`${server.url}/v2/models/heavy/infer`, heavyBody);
      keep('unbatched', unbatched.rps);
      log(`mlscale heavy, no batching (--max-batch-size 0): ${describe(unbatched)}`);
      await stop(server.child);

      const responseFile = join(dir, 'light-response.json');
      await writeFile(responseFile, sample);
      const bare = await startBare(responseFile);
      const bareLoad = await measure(`${bare.url}/v2/models/light/infer`, lightBody);
      keep('bare', bareLoad.rps);
      log(`bare Fastify, same request and ${sample.length}-byte response: ${describe(bareLoad)}`);
      await stop(bare.child);
    }

    const m = (key: string) => median(results[key] ?? [NaN]);
    const pct = (a: number, b: number) => `${fmt((100 * a) / b)}%`;
    log('\n## Summary (medians)');
    log('| measure | mlscale | limit / peer | ratio | target |');
    log('| --- | --- | --- | --- | --- |');
    log(`| heavy model, 1 row per request, rows/s | ${fmt(m('batched'))} | raw onnxruntime batch 64: ${fmt(m('raw64'))} | ${pct(m('batched'), m('raw64'))} | ≥ 80% |`);
    log(`| light model, requests/s | ${fmt(m('light'))} | bare Fastify: ${fmt(m('bare'))} | ${pct(m('light'), m('bare'))} | ≥ 80% |`);
    log(`| heavy, dynamic batching vs none, rows/s | ${fmt(m('batched'))} | no batching: ${fmt(m('unbatched'))} | ${fmt(m('batched') / m('unbatched'), 1)}x | ≥ 5x |`);
    log(`| heavy, adaptive delay (default) vs fixed 2 ms, rows/s | ${fmt(m('batched'))} | fixed 2 ms: ${fmt(m('fixed'))} | ${pct(m('batched'), m('fixed'))} | — |`);
    log(`| raw onnxruntime heavy, batch 64 vs batch 1 | ${fmt(m('raw64'))} | ${fmt(m('raw1'))} | ${fmt(m('raw64') / m('raw1'), 1)}x | (the batching limit) |`);
    for (const [fraction, runs] of Object.entries(latencies)) {
      log(`| heavy latency at ${Number(fraction) * 100}% of max: p50 / p99 ms | ${fmt(median(runs.map((r) => r.p50)), 1)} / ${fmt(median(runs.map((r) => r.p99)), 1)} | | | — |`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
