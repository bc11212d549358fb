/**
 * `npm run bench:serve`: the model server against its limits, side by side in one run.
 *
 * - compute limit: raw onnxruntime-node in this process, batch 64 (the server's batch size), on a
 *   compute-heavy MLP 256-2048-2048-2048-10 (~18 MFLOP a row) — against `mlscale serve` at one row
 *   per request, 64 connections;
 * - HTTP limit: a bare Fastify server answering a same-size JSON body — against `mlscale serve` on a
 *   light MLP 64-256-256-10;
 * - dynamic batching against none (`--max-batch-size 0`) on the heavy model;
 * - latency p50/p99 at 50% and 80% of the heavy model's measured maximum throughput;
 * - the adaptive delay against fixed delays of 2 ms (Triton-style) and 8 ms, with the mean batch
 *   size each formed;
 * - what bounds the heavy model on a shared machine: raw onnxruntime at batch 64 while a bare
 *   Fastify server answers the heavy request body at the server's measured rate beside it (the
 *   HTTP work the server's own thread must do), and raw onnxruntime at the server's mean batch;
 * - the CPU bound on the heavy model: raw onnxruntime's CPU time per row c, bare Fastify's HTTP-thread
 *   CPU time per heavy request h and wrk's g; a server that needs no more than bare Fastify per
 *   request cannot pass c / (c + h + g) of raw's rate on cores it shares with its load generator;
 *   and the server's own CPU time per request, all threads, beside c;
 * - what bounds the light model likewise: bare Fastify while onnxruntime runs the light model
 *   beside it at the server's mean batch and batch rate (the compute the server's instance does).
 *
 * Servers and the load generator (wrk when on PATH, else autocannon; autocannon for fixed-rate runs) run as separate processes; everything shares this
 * 2-core machine, as a load generator on the same host would. Repeats (`--repeats`, default 3) and
 * reports medians; `--quick` runs short and once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { median } from '../src/analysis/fit.js';
import {
  autocannonLoad,
  configureLoad,
  describe,
  fmt,
  freePort,
  inferBody,
  load,
  measure,
  mlpBytes,
  root,
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
const duration = Number(args.duration ?? (quick ? 4 : 10));
const connections = Number(args.connections ?? 64);
const cores = availableParallelism();
// wrk (C) takes less CPU per request than autocannon (JS), leaving more of this shared machine to
// the servers measured; it cannot hold a fixed rate, so autocannon runs the latency-at-rate runs.
const generator = configureLoad({ connections, duration, generator: args.generator });
const log = (line = '') => process.stdout.write(line + '\n');

async function startBare(responseFile: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [join(root, 'dist/bench/bare-fastify.js'), String(port), responseFile],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`bare Fastify exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

/**
 * CPU time (user + system, ms) of a process's main thread so far, from /proc; undefined where
 * there is no /proc. The HTTP work of a Node server runs on its main thread, so this per request
 * is the HTTP cost, apart from the load generator and the model's worker threads.
 */
function mainThreadCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / kClockTicks;
  } catch {
    return undefined;
  }
}
const kClockTicks = 100; // USER_HZ on Linux

/** CPU time (user + system, ms) of a whole process, every thread, so far; undefined without /proc. */
function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / kClockTicks;
  } catch {
    return undefined;
  }
}

/** Runs `measureIt` and the main thread's CPU µs per request of `pid` during it. */
async function withCpu(
  pid: number | undefined,
  measureIt: () => Promise<Load>,
): Promise<Load & { cpuUsPerRequest: number }> {
  await load(currentUrl, currentBody, 2);
  const before = mainThreadCpuMs(pid);
  const result = await measureIt();
  const after = mainThreadCpuMs(pid);
  const cpuUsPerRequest =
    before === undefined || after === undefined || result.requests === 0
      ? NaN
      : ((after - before) * 1000) / result.requests;
  return { ...result, cpuUsPerRequest };
}
let currentUrl = '';
let currentBody = '';

/** Rows and batches a model version has run, from its statistics. */
async function batchCounts(url: string, model: string): Promise<{ rows: number; batches: number }> {
  const stats = (await (await fetch(`${url}/v2/models/${model}/stats`)).json()) as {
    model_stats: { inference_count: number; execution_count: number }[];
  };
  const s = stats.model_stats[0]!;
  return { rows: s.inference_count, batches: s.execution_count };
}

/**
 * Warms up, then measures a closed-loop run, the mean batch size the server formed during it, and
 * the server's CPU time per request over all its threads (µs).
 */
async function measureBatched(
  url: string,
  model: string,
  body: string,
  pid?: number,
): Promise<Load & { meanBatch: number; serverCpuUs: number }> {
  const infer = `${url}/v2/models/${model}/infer`;
  await load(infer, body, 2);
  const before = await batchCounts(url, model);
  const cpuBefore = processCpuMs(pid);
  const result = await load(infer, body, duration);
  const cpuAfter = processCpuMs(pid);
  const after = await batchCounts(url, model);
  const serverCpuUs =
    cpuBefore === undefined || cpuAfter === undefined || result.requests === 0
      ? NaN
      : ((cpuAfter - cpuBefore) * 1000) / result.requests;
  return {
    ...result,
    meanBatch: (after.rows - before.rows) / Math.max(1, after.batches - before.batches),
    serverCpuUs,
  };
}

/** Raw onnxruntime-node rows/s at a batch size: one session with every core, run back to back. */
async function rawOrt(bytes: Uint8Array, width: number, batch: number): Promise<number> {
  return (await rawOrtCost(bytes, width, batch)).rps;
}

/** As `rawOrt`, with this process's CPU time per row (µs) over the run: the compute's cost. */
async function rawOrtCost(
  bytes: Uint8Array,
  width: number,
  batch: number,
): Promise<{ rps: number; cpuUsPerRow: number }> {
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: cores,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const data = new Float32Array(batch * width).map((_, i) => ((i * 7919) % 2000) / 1000 - 1);
  const feeds = { x: new ort.Tensor('float32', data, [batch, width]) };
  for (let i = 0; i < 5; i++) await session.run(feeds);
  let rows = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  while (performance.now() - t0 < duration * 1000) {
    await session.run(feeds);
    rows += batch;
  }
  const rps = rows / ((performance.now() - t0) / 1000);
  const cpu = process.cpuUsage(cpu0);
  await session.release();
  return { rps, cpuUsPerRow: (cpu.user + cpu.system) / rows };
}

/**
 * Runs a model at a batch size and a fixed batch rate for `seconds`, with the server's default
 * session settings: the compute an instance does beside the HTTP thread at that rate.
 */
async function pacedOrt(
  bytes: Uint8Array,
  width: number,
  batch: number,
  batchesPerSecond: number,
  seconds: number,
): Promise<void> {
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: cores,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { 'session.intra_op.allow_spinning': '0' },
  });
  const feeds = {
    x: new ort.Tensor('float32', new Float32Array(batch * width).fill(0.5), [batch, width]),
  };
  const t0 = performance.now();
  for (let k = 0; performance.now() - t0 < seconds * 1000; k++) {
    await session.run(feeds);
    const wait = t0 + ((k + 1) * 1000) / batchesPerSecond - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await session.release();
}

async function main(): Promise<void> {
  log(`# mlscale serve benchmark — ${new Date().toISOString()}`);
  log(
    `machine: ${cpus()[0]?.model ?? 'cpu'} × ${cores}, node ${process.versions.node}; ${generator} with ${connections} connections (autocannon at fixed rates), ${duration} s runs; repeats ${repeats} (medians)`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'mlscale-bench-serve-'));
  try {
    const heavy = mlpBytes(256, [2048, 2048, 2048], 10);
    const light = mlpBytes(64, [256, 256], 10);
    const repo = join(dir, 'repo');
    for (const [name, bytes] of [
      ['heavy', heavy],
      ['light', light],
    ] as const) {
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
      const { rps: raw64, cpuUsPerRow: rawCpu } = await rawOrtCost(heavy, 256, 64);
      const raw1 = await rawOrt(heavy, 256, 1);
      keep('raw64', raw64);
      keep('rawCpu', rawCpu);
      keep('raw1', raw1);
      log(
        `raw onnxruntime heavy: batch 64 ${fmt(raw64)} rows/s, batch 1 ${fmt(raw1)} rows/s (${cores} intra-op threads)`,
      );

      let server = await startMlscale(repo, []);
      const heavyUrl = `${server.url}/v2/models/heavy/infer`;
      const batched = await measureBatched(server.url, 'heavy', heavyBody, server.child.pid);
      keep('batched', batched.rps);
      keep('serverCpu', batched.serverCpuUs);
      keep('batchedMean', batched.meanBatch);
      log(
        `mlscale heavy, dynamic batching (defaults: adaptive delay): ${describe(batched)}, mean batch ${fmt(batched.meanBatch, 1)}; server CPU ${fmt(batched.serverCpuUs)} µs per request, all threads`,
      );
      for (const fraction of [0.5, 0.8]) {
        const l = await measure(heavyUrl, heavyBody, batched.rps * fraction);
        (latencies[String(fraction)] ??= []).push(l);
        log(
          `mlscale heavy at ${fraction * 100}% of max (${fmt(batched.rps * fraction)} req/s offered): ${describe(l)}`,
        );
      }
      currentUrl = `${server.url}/v2/models/light/infer`;
      currentBody = lightBody;
      const lightBefore = await batchCounts(server.url, 'light');
      const lightLoad = await withCpu(server.child.pid, () =>
        load(currentUrl, lightBody, duration),
      );
      const lightAfter = await batchCounts(server.url, 'light');
      // Warm-up included: the mean batch only sets the size of the compute run beside bare Fastify below.
      const lightBatch =
        (lightAfter.rows - lightBefore.rows) /
        Math.max(1, lightAfter.batches - lightBefore.batches);
      keep('light', lightLoad.rps);
      keep('lightCpu', lightLoad.cpuUsPerRequest);
      keep('lightBatch', lightBatch);
      log(
        `mlscale light: ${describe(lightLoad)}; HTTP thread ${fmt(lightLoad.cpuUsPerRequest, 1)} µs CPU per request; mean batch ${fmt(lightBatch, 1)}`,
      );
      const sample = await (
        await fetch(`${server.url}/v2/models/light/infer`, {
          method: 'POST',
          body: lightBody,
          headers: { 'content-type': 'application/json' },
        })
      ).text();
      const heavySample = await (
        await fetch(heavyUrl, {
          method: 'POST',
          body: heavyBody,
          headers: { 'content-type': 'application/json' },
        })
      ).text();
      await stop(server.child);

      for (const delay of ['2', '8']) {
        server = await startMlscale(repo, ['--max-queue-delay-ms', delay]);
        const fixed = await measureBatched(server.url, 'heavy', heavyBody);
        keep(`fixed${delay}`, fixed.rps);
        keep(`fixed${delay}Mean`, fixed.meanBatch);
        log(
          `mlscale heavy, --max-queue-delay-ms ${delay} (fixed): ${describe(fixed)}, mean batch ${fmt(fixed.meanBatch, 1)}`,
        );
        await stop(server.child);
      }

      // The compute limit on a shared machine: raw onnxruntime while an HTTP server does the
      // heavy model's HTTP work (parse the 256-number body, answer) at the rate mlscale reached.
      const heavyResponse = join(dir, 'heavy-response.json');
      await writeFile(heavyResponse, heavySample);
      const bareHeavy = await startBare(heavyResponse);
      const [shared, beside] = await Promise.all([
        rawOrt(heavy, 256, 64),
        autocannonLoad(
          `${bareHeavy.url}/v2/models/heavy/infer`,
          heavyBody,
          duration + 1,
          batched.rps,
        ),
      ]);
      // The least HTTP work a server can do per heavy request, and the load generator's, in CPU time.
      currentUrl = `${bareHeavy.url}/v2/models/heavy/infer`;
      currentBody = heavyBody;
      const bareHeavyLoad = await withCpu(bareHeavy.child.pid, () =>
        load(currentUrl, heavyBody, duration),
      );
      await stop(bareHeavy.child);
      keep('bareHeavyCpu', bareHeavyLoad.cpuUsPerRequest);
      keep('generatorCpu', bareHeavyLoad.generatorCpuUs ?? NaN);
      // A server that needs no more CPU per request than bare Fastify, beside a load generator on the
      // same cores, keeps at most this share of them for the compute: c / (c + h + g) of raw's rate.
      const cpuBound =
        rawCpu / (rawCpu + bareHeavyLoad.cpuUsPerRequest + (bareHeavyLoad.generatorCpuUs ?? NaN));
      keep('cpuBound', cpuBound);
      log(
        `CPU per heavy row or request: raw onnxruntime ${fmt(rawCpu)} µs, bare Fastify's HTTP thread ${fmt(bareHeavyLoad.cpuUsPerRequest, 1)} µs, wrk ${fmt(bareHeavyLoad.generatorCpuUs ?? NaN, 1)} µs: ` +
          `no server on these cores exceeds ${fmt(100 * cpuBound)}% of raw`,
      );
      keep('rawShared', shared);
      log(
        `raw onnxruntime heavy batch 64 beside bare Fastify answering the heavy body at ${fmt(batched.rps)} req/s (got ${fmt(beside.rps)}): ${fmt(shared)} rows/s`,
      );
      const meanBatch = Math.max(1, Math.round(batched.meanBatch));
      const rawAtMean = await rawOrt(heavy, 256, meanBatch);
      keep('rawAtMean', rawAtMean);
      log(
        `raw onnxruntime heavy at the server's mean batch ${meanBatch}: ${fmt(rawAtMean)} rows/s`,
      );

      server = await startMlscale(repo, ['--max-batch-size', '0']);
      const unbatched = await measure(`${server.url}/v2/models/heavy/infer`, heavyBody);
      keep('unbatched', unbatched.rps);
      log(`mlscale heavy, no batching (--max-batch-size 0): ${describe(unbatched)}`);
      await stop(server.child);

      const responseFile = join(dir, 'light-response.json');
      await writeFile(responseFile, sample);
      const bare = await startBare(responseFile);
      currentUrl = `${bare.url}/v2/models/light/infer`;
      const bareLoad = await withCpu(bare.child.pid, () => load(currentUrl, lightBody, duration));
      keep('bare', bareLoad.rps);
      keep('bareCpu', bareLoad.cpuUsPerRequest);
      // The HTTP limit on a shared machine: bare Fastify while the light model's compute (its mean
      // batch, at the batch rate mlscale reached) runs beside it, as the server's instance does.
      const lightRows = Math.max(1, Math.round(lightBatch));
      const [bareBeside] = await Promise.all([
        withCpu(bare.child.pid, () => load(currentUrl, lightBody, duration)),
        pacedOrt(light, 64, lightRows, lightLoad.rps / lightRows, duration + 3),
      ]);
      keep('bareBeside', bareBeside.rps);
      // Ratios within the repeat: each against the peer measured minutes apart, not hours.
      const r = (key: string) => results[key]!.at(-1)!;
      keep('ratioHeavy', r('batched') / r('raw64'));
      keep('ratioLight', r('light') / r('bare'));
      keep('ratioCpu', r('lightCpu') / r('bareCpu'));
      keep('ratioBatching', r('batched') / r('unbatched'));
      keep('ratioFixed2', r('batched') / r('fixed2'));
      keep('ratioFixed8', r('batched') / r('fixed8'));
      keep('ratioShared', r('batched') / r('rawShared'));
      keep('ratioLightShared', r('light') / r('bareBeside'));
      log(
        `ratios this repeat: heavy/raw ${fmt(100 * r('ratioHeavy'))}%, light/bare ${fmt(100 * r('ratioLight'))}%, HTTP CPU ${fmt(r('ratioCpu'), 2)}x, batching ${fmt(r('ratioBatching'), 1)}x, auto/fixed 2 ms ${fmt(100 * r('ratioFixed2'))}%, auto/fixed 8 ms ${fmt(100 * r('ratioFixed8'))}%, heavy/raw beside HTTP ${fmt(100 * r('ratioShared'))}%, CPU bound ${fmt(100 * r('cpuBound'))}%`,
      );
      log(
        `bare Fastify, same request and ${sample.length}-byte response: ${describe(bareLoad)}; main thread ${fmt(bareLoad.cpuUsPerRequest, 1)} µs CPU per request`,
      );
      log(
        `bare Fastify beside onnxruntime running the light model (batch ${lightRows} at ${fmt(lightLoad.rps / lightRows)} batches/s): ${describe(bareBeside)}; light/bare beside the compute ${fmt(100 * r('ratioLightShared'))}%`,
      );
      await stop(bare.child);
    }

    const m = (key: string) => median(results[key] ?? [NaN]);
    const pct = (a: number, b: number) => `${fmt((100 * a) / b)}%`;
    log(
      '\n## Ratios within each repeat (medians over repeats: on a busy machine, the figures to read)',
    );
    log(
      `heavy/raw ${fmt(100 * m('ratioHeavy'))}% (target ≥ 80%), light/bare ${fmt(100 * m('ratioLight'))}% (target ≥ 80%), HTTP-thread CPU per request ${fmt(m('ratioCpu'), 2)}x bare's, batching ${fmt(m('ratioBatching'), 1)}x (target ≥ 5x), auto/fixed 2 ms ${fmt(100 * m('ratioFixed2'))}%, auto/fixed 8 ms ${fmt(100 * m('ratioFixed8'))}%, heavy/raw beside the HTTP work ${fmt(100 * m('ratioShared'))}%, CPU bound on heavy ${fmt(100 * m('cpuBound'))}% of raw`,
    );
    log('\n## Summary (medians)');
    log('| measure | mlscale | limit / peer | ratio | target |');
    log('| --- | --- | --- | --- | --- |');
    log(
      `| heavy model, 1 row per request, rows/s | ${fmt(m('batched'))} | raw onnxruntime batch 64: ${fmt(m('raw64'))} | ${pct(m('batched'), m('raw64'))} | ≥ 80% |`,
    );
    log(
      `| light model, requests/s | ${fmt(m('light'))} | bare Fastify: ${fmt(m('bare'))} | ${pct(m('light'), m('bare'))} | ≥ 80% |`,
    );
    log(
      `| light model, against bare Fastify sharing the cores with the light model's compute (mean batch ${fmt(m('lightBatch'), 1)}) | ${fmt(m('light'))} | ${fmt(m('bareBeside'))} | ${fmt(100 * m('ratioLightShared'))}% | (the bound on this machine) |`,
    );
    log(
      `| light model, HTTP-thread CPU per request, µs | ${fmt(m('lightCpu'), 1)} | bare Fastify: ${fmt(m('bareCpu'), 1)} | ${fmt(m('lightCpu') / m('bareCpu'), 2)}x | (what bounds the HTTP limit) |`,
    );
    log(
      `| heavy, dynamic batching vs none, rows/s | ${fmt(m('batched'))} | no batching: ${fmt(m('unbatched'))} | ${fmt(m('batched') / m('unbatched'), 1)}x | ≥ 5x |`,
    );
    for (const delay of ['2', '8']) {
      log(
        `| heavy, adaptive delay (default, mean batch ${fmt(m('batchedMean'), 1)}) vs fixed ${delay} ms (mean batch ${fmt(m(`fixed${delay}Mean`), 1)}), rows/s | ${fmt(m('batched'))} | fixed ${delay} ms: ${fmt(m(`fixed${delay}`))} | ${pct(m('batched'), m(`fixed${delay}`))} | — |`,
      );
    }
    log(
      `| heavy, against raw onnxruntime batch 64 sharing the cores with the HTTP work | ${fmt(m('batched'))} | ${fmt(m('rawShared'))} | ${pct(m('batched'), m('rawShared'))} | (the bound on this machine) |`,
    );
    log(
      `| heavy, server CPU per request (all threads) against raw onnxruntime's per row, µs | ${fmt(m('serverCpu'))} | ${fmt(m('rawCpu'))} | ${fmt(m('serverCpu') / m('rawCpu'), 2)}x | — |`,
    );
    log(
      `| heavy, the most of raw a server can reach on these cores: c / (c + h + g), from raw's CPU per row c (${fmt(m('rawCpu'))} µs), bare Fastify's HTTP-thread CPU per heavy request h (${fmt(m('bareHeavyCpu'), 1)} µs) and wrk's g (${fmt(m('generatorCpu'), 1)} µs) | ${pct(m('batched'), m('raw64'))} of raw | ${fmt(100 * m('cpuBound'))}% of raw | — | (the bound on this machine) |`,
    );
    log(
      `| heavy, against raw onnxruntime at the server's mean batch | ${fmt(m('batched'))} | ${fmt(m('rawAtMean'))} | ${pct(m('batched'), m('rawAtMean'))} | — |`,
    );
    log(
      `| raw onnxruntime heavy, batch 64 vs batch 1 | ${fmt(m('raw64'))} | ${fmt(m('raw1'))} | ${fmt(m('raw64') / m('raw1'), 1)}x | (the batching limit) |`,
    );
    for (const [fraction, runs] of Object.entries(latencies)) {
      log(
        `| heavy latency at ${Number(fraction) * 100}% of max: p50 / p99 ms | ${fmt(median(runs.map((r) => r.p50)), 1)} / ${fmt(median(runs.map((r) => r.p99)), 1)} | | | — |`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
