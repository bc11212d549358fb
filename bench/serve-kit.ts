/**
 * Pieces shared by the serve benchmarks (`bench:serve`, `bench:replicas`): the models, request
 * bodies, starting and stopping `mlscale serve`, and the load generator (wrk when on PATH for
 * closed-loop runs, else autocannon; autocannon for fixed-rate runs), each in its own process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildExportGraph } from '../src/model/export-graph.js';
import { initParameters } from '../src/model/parameters.js';
import type { ModelSpec, PreprocessingSpec } from '../src/model/spec.js';
import { packageRoot } from '../src/util/package-root.js';
import { freePort } from '../src/util/free-port.js';

export const root = packageRoot();
export const fmt = (v: number, d = 0) =>
  v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

/** Whether wrk is on PATH. */
export const hasWrk = spawnSync('wrk', ['--version'], { encoding: 'utf8' }).error === undefined;

let connections = 64;
let duration = 10;
let generator: 'wrk' | 'autocannon' = hasWrk ? 'wrk' : 'autocannon';

/** Sets the load generator's connections, run length and program (validated). */
export function configureLoad(options: {
  connections: number;
  duration: number;
  generator?: string;
}): 'wrk' | 'autocannon' {
  connections = options.connections;
  duration = options.duration;
  const g = options.generator ?? (hasWrk ? 'wrk' : 'autocannon');
  if (g !== 'wrk' && g !== 'autocannon')
    throw new Error(`--generator must be wrk or autocannon, got ${g}`);
  if (g === 'wrk' && !hasWrk)
    throw new Error('--generator wrk: wrk is not on PATH (apt-get install wrk)');
  generator = g;
  return g;
}

export interface Load {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  non2xx: number;
  timeouts: number;
  /** The load generator's own CPU time per request, µs (wrk only; NaN otherwise). */
  generatorCpuUs?: number;
}

/** An MLP classifier with raw-feature input `x` FP32 [N, inputs]. */
export function mlpBytes(inputs: number, hidden: number[], outputs: number): Uint8Array {
  const spec: ModelSpec = {
    family: 'mlp',
    task: 'classification',
    inputs,
    outputs,
    hidden,
    activation: 'relu',
  };
  const names = Array.from({ length: inputs }, (_, i) => `f${i}`);
  const pre: PreprocessingSpec = {
    numeric: { names, mean: new Float32Array(inputs), std: new Float32Array(inputs).fill(1) },
    categorical: { names: [], vocab: [] },
    classes: Array.from({ length: outputs }, (_, i) => String(i)),
  };
  return buildExportGraph(spec, initParameters(spec, 1), pre);
}

export function row(width: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: width }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return Math.round((s / 2 ** 31) * 2000 - 1000) / 1000;
  });
}

export function inferBody(width: number): string {
  return JSON.stringify({
    inputs: [{ name: 'x', shape: [1, width], datatype: 'FP32', data: row(width, 7) }],
  });
}

export { freePort } from '../src/util/free-port.js';

export async function waitFor(url: string, timeoutMs = 30_000): Promise<void> {
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

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Starts `mlscale serve` on the repository with extra flags; resolves with its base URL and process. */
export async function startMlscale(
  repo: string,
  flags: string[],
  mlscaleRoot = root,
): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      join(mlscaleRoot, 'bin/mlscale.js'),
      'serve',
      '--model-repository',
      repo,
      '--port',
      String(port),
      '--log-level',
      'warn',
      ...flags,
    ],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/v2/health/ready`);
  return { url, child };
}

/** Runs the load generator in its own process against one URL: wrk for closed-loop runs when present, autocannon at a fixed rate. */
export async function load(
  url: string,
  body: string,
  seconds: number,
  rate?: number,
): Promise<Load> {
  return rate === undefined && generator === 'wrk'
    ? wrk(url, body, seconds)
    : autocannonLoad(url, body, seconds, rate);
}

let luaScript: string | undefined;

export async function wrk(url: string, body: string, seconds: number): Promise<Load> {
  if (luaScript === undefined) {
    luaScript = join(await mkdtemp(join(tmpdir(), 'mlscale-wrk-')), 'post.lua');
    await writeFile(
      luaScript,
      'wrk.method = "POST"\nlocal f = io.open(os.getenv("MLSCALE_BODY"), "r"); wrk.body = f:read("*a"); f:close()\nwrk.headers["Content-Type"] = "application/json"\n',
    );
  }
  const bodyFile = join(luaScript, '..', 'body.json');
  await writeFile(bodyFile, body);
  // Through bash, whose `times` then prints wrk's CPU time (its children's user and system time).
  const child = spawn(
    'bash',
    [
      '-c',
      'wrk "$@"; times',
      'wrk',
      '-t1',
      `-c${connections}`,
      `-d${seconds}s`,
      '--latency',
      '-s',
      luaScript,
      url,
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, MLSCALE_BODY: bodyFile },
    },
  );
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
  const times = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(out.trim());
  const cpuSeconds = times
    ? Number(times[1]) * 60 + Number(times[2]) + Number(times[3]) * 60 + Number(times[4])
    : NaN;
  return {
    generatorCpuUs: requests > 0 ? (cpuSeconds * 1e6) / requests : NaN,
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50: ms('50'),
    p99: ms('99'),
    requests,
    errors: num(/Socket errors: connect (\d+)/),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    timeouts: num(/timeout (\d+)/),
  };
}

export async function autocannonLoad(
  url: string,
  body: string,
  seconds: number,
  rate?: number,
): Promise<Load> {
  const options = {
    url,
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
    connections,
    duration: seconds,
    ...(rate ? { overallRate: Math.round(rate) } : {}),
  };
  const child = spawn(
    process.execPath,
    [join(root, 'dist/bench/serve-load.js'), JSON.stringify(options)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => child.once('exit', r));
  return JSON.parse(out) as Load;
}

/** Warms a server up (JIT, batch-cost fit), then measures. */
export async function measure(url: string, body: string, rate?: number): Promise<Load> {
  await load(url, body, 2, rate);
  return load(url, body, duration, rate);
}

export function describe(l: Load): string {
  const failed = l.errors + l.non2xx + l.timeouts;
  return `${fmt(l.rps)} req/s, p50 ${fmt(l.p50, 1)} ms, p99 ${fmt(l.p99, 1)} ms${failed ? `, ${failed} failed` : ''}`;
}
