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
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { median } from '../src/bench/fit.js';
import { buildExportGraph } from '../src/model/export-graph.js';
import { initParameters } from '../src/model/parameters.js';
import type { ModelSpec, PreprocessingSpec } from '../src/model/spec.js';
import { packageRoot } from '../src/util/package-root.js';

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
const hasWrk = spawnSync('wrk', ['--version'], { encoding: 'utf8' }).error === undefined;
const generator = args.generator ?? (hasWrk ? 'wrk' : 'autocannon');
if (generator !== 'wrk' && generator !== 'autocannon') throw new Error(`--generator must be wrk or autocannon, got ${generator}`);
if (generator === 'wrk' && !hasWrk) throw new Error('--generator wrk: wrk is not on PATH (apt-get install wrk)');
const root = packageRoot();
const log = (line = '') => process.stdout.write(line + '\n');
const fmt = (v: number, d = 0) => v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

interface Load {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  non2xx: number;
  timeouts: number;
}

/** An MLP classifier with raw-feature input `x` FP32 [N, inputs]. */
function mlpBytes(inputs: number, hidden: number[], outputs: number): Uint8Array {
  const spec: ModelSpec = { family: 'mlp', task: 'classification', inputs, outputs, hidden, activation: 'relu' };
  const names = Array.from({ length: inputs }, (_, i) => `f${i}`);
  const pre: PreprocessingSpec = {
    numeric: { names, mean: new Float32Array(inputs), std: new Float32Array(inputs).fill(1) },
    categorical: { names: [], vocab: [] },
    classes: Array.from({ length: outputs }, (_, i) => String(i)),
  };
  return buildExportGraph(spec, initParameters(spec, 1), pre);
}

function row(width: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: width }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return Math.round((s / 2 ** 31) * 2000 - 1000) / 1000;
  });
}

function inferBody(width: number): string {
  return JSON.stringify({ inputs: [{ name: 'x', shape: [1, width], datatype: 'FP32', data: row(width, 7) }] });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitFor(url: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Starts `mlscale serve` on the repository with extra flags; resolves with its base URL and process. */
async function startMlscale(repo: string, flags: string[]): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'bin/mlscale.js'), 'serve', '--model-repository', repo, '--port', String(port), '--log-level', 'warn', ...flags], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/v2/health/ready`);
  return { url, child };
}

async function startBare(responseFile: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'dist/bench/bare-fastify.js'), String(port), responseFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`bare Fastify exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

/** Runs the load generator in its own process against one URL: wrk for closed-loop runs when present, autocannon at a fixed rate. */
async function load(url: string, body: string, seconds: number, rate?: number): Promise<Load> {
  return rate === undefined && generator === 'wrk' ? wrk(url, body, seconds) : autocannonLoad(url, body, seconds, rate);
}

let luaScript: string | undefined;

async function wrk(url: string, body: string, seconds: number): Promise<Load> {
  if (luaScript === undefined) {
    luaScript = join(await mkdtemp(join(tmpdir(), 'mlscale-wrk-')), 'post.lua');
    await writeFile(
      luaScript,
      'wrk.method = "POST"\nlocal f = io.open(os.getenv("MLSCALE_BODY"), "r"); wrk.body = f:read("*a"); f:close()\nwrk.headers["Content-Type"] = "application/json"\n',
    );
  }
  const bodyFile = join(luaScript, '..', 'body.json');
  await writeFile(bodyFile, body);
  const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', luaScript, url], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, MLSCALE_BODY: bodyFile },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => child.once('exit', r));
  const ms = (label: string): number => {
    const m = new RegExp(`${label}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    if (!m) return NaN;
    return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
  };
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? 0);
  const requests = num(/(\d+) requests in/);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50: ms('50'),
    p99: ms('99'),
    requests,
    errors: num(/Socket errors: connect (\d+)/),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    timeouts: num(/timeout (\d+)/),
  };
}

async function autocannonLoad(url: string, body: string, seconds: number, rate?: number): Promise<Load> {
  const options = {
    url,
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
    connections,
    duration: seconds,
    ...(rate ? { overallRate: Math.round(rate) } : {}),
  };
  const child = spawn(process.execPath, [join(root, 'dist/bench/serve-load.js'), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => child.once('exit', r));
  return JSON.parse(out) as Load;
}

/** Warms a server up (JIT, batch-cost fit), then measures. */
async function measure(url: string, body: string, rate?: number): Promise<Load> {
  await load(url, body, 2, rate);
  return load(url, body, duration, rate);
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

function describe(l: Load): string {
  const failed = l.errors + l.non2xx + l.timeouts;
  return `${fmt(l.rps)} req/s, p50 ${fmt(l.p50, 1)} ms, p99 ${fmt(l.p99, 1)} ms${failed ? `, ${failed} failed` : ''}`;
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
