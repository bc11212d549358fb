/**
 * Serving replicas 1 → 2 on simulated hosts (`npm run bench:hosts -- --only serve`): one
 * `mlscale serve` per host (bench/hosts-kit.ts: a network namespace and a CPU quota each), nginx on
 * this machine in front (the configuration `mlscale deploy nginx` writes), and the project's load
 * generator (`mlscale load`, closed loop) on this machine too. The prediction for two replicas is
 * the advisor's for machines behind a load balancer (`predictMachines`: 2 × the one measured) made
 * from the one-replica measurement; both are measured through nginx, alternately, so drift in
 * the shared machine hits them alike. Everything started is stopped, and the hosts removed, also on
 * failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from '../src/analysis/fit.js';
import { predictMachines } from '../src/analysis/prediction.js';
import type { LoadResult } from '../src/analysis/load-result.js';
import { kDefaultBalancerOptions, nginxConfig } from '../src/deploy/configs.js';
import { createHosts, type SimHosts } from './hosts-kit.js';
import { freePort, mlpBytes, root, row, stop, waitFor } from './serve-kit.js';

/** How the serve part runs. */
export interface ServeOnHostsOptions {
  readonly hostCpus: number;
  readonly periodUs: number;
  readonly repeats: number;
  /** Measured seconds per load run, after `warmupSeconds` unrecorded. */
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  /** Rows per request. */
  readonly rows: number;
  readonly log: (line: string) => void;
}

/** One replica count: the prediction (from one) and the median measurement, in requests/s. */
export interface ServeRow {
  readonly replicas: number;
  readonly predicted: number;
  readonly measured: number;
  readonly p99Ms: number;
}

const kWidth = 256;
const kPort = 8000;

/** Starts nginx in `dir` in front of `replicas`; resolves with its URL and process. */
async function startNginx(
  dir: string,
  replicas: readonly { host: string; port: number }[],
): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `    ${t}_temp_path ${join(dir, t)};`)
    .join('\n');
  const conf = join(dir, 'nginx.conf');
  const text = nginxConfig({
    ...kDefaultBalancerOptions,
    replicas,
    listenHost: '127.0.0.1',
    listenPort: port,
    workerProcesses: 1,
  });
  // Temporary files in the run's own folder, not the system's (this nginx is not root's).
  await writeFile(conf, text.replace(/^http \{$/m, `http {\n${temps}`));
  const child = spawn(
    'nginx',
    [
      '-c',
      conf,
      '-p',
      dir,
      '-e',
      join(dir, 'error.log'),
      '-g',
      `daemon off; pid ${join(dir, 'nginx.pid')};`,
    ],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/v2/health/ready`);
  return { url, child };
}

/** One closed-loop run of `mlscale load` against `url`, in a process of its own. */
async function loadRun(url: string, body: string, o: ServeOnHostsOptions): Promise<LoadResult> {
  const child = spawn(
    process.execPath,
    [
      join(root, 'bin/mlscale.js'),
      'load',
      '--url',
      url,
      '--mode',
      'closed',
      '--connections',
      String(o.connections),
      '--duration',
      `${o.seconds}s`,
      '--warmup',
      `${o.warmupSeconds}s`,
      '--body',
      body,
      '--json',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`mlscale load exited ${code}: ${out.slice(0, 500)}`);
  return JSON.parse(out) as LoadResult;
}

/** Replicas on simulated hosts with nginx in front, running: `balancers[n − 1]` reaches n replicas. */
export interface ServeHosts {
  readonly hosts: SimHosts;
  readonly balancers: readonly string[];
  /** The model's infer path and a request body file of `rows` rows. */
  readonly inferPath: string;
  readonly body: string;
  /** Stops replicas and nginx, removes the hosts and the folder. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts `count` replicas, one per host of `hostCpus` CPU, and one nginx per replica count
 * (1..count) on this machine. On failure what was started is stopped before the error is thrown.
 */
export async function startServeHosts(o: {
  count: number;
  hostCpus: number;
  periodUs: number;
  rows: number;
  id?: string;
  subnet?: string;
}): Promise<ServeHosts> {
  const dir = await mkdtemp(join(tmpdir(), 'mlscale-bench-hosts-serve-'));
  let hosts: SimHosts | undefined;
  const children: ChildProcess[] = [];
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const c of children) await stop(c).catch(() => undefined);
    hosts?.teardown();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const repo = join(dir, 'repo');
    await mkdir(join(repo, 'heavy', '1'), { recursive: true });
    await writeFile(join(repo, 'heavy', '1', 'model.onnx'), mlpBytes(kWidth, [1024, 1024], 10));
    const body = join(dir, 'body.json');
    await writeFile(
      body,
      JSON.stringify({
        inputs: [
          {
            name: 'x',
            shape: [o.rows, kWidth],
            datatype: 'FP32',
            data: Array.from({ length: o.rows }, (_, i) => row(kWidth, 7 + i)).flat(),
          },
        ],
      }),
    );
    hosts = createHosts(
      o.count,
      o.hostCpus,
      o.id ?? String(process.pid % 10000),
      o.subnet ?? '10.200.1',
      o.periodUs,
    );
    const h = hosts;
    const replicas = h.hosts.map((x) => ({ host: x.address, port: kPort }));
    for (const [i, r] of replicas.entries()) {
      // One onnxruntime session of one thread: the host has less than a core.
      const [cmd, args] = h.wrap(i, [
        process.execPath,
        join(root, 'bin/mlscale.js'),
        'serve',
        '--model-repository',
        repo,
        '--host',
        r.host,
        '--port',
        String(r.port),
        '--instances',
        '1',
        '--intra-op-threads',
        '1',
        '--log-level',
        'warn',
      ]);
      children.push(spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] }));
      await waitFor(`http://${r.host}:${r.port}/v2/health/ready`, 60_000);
    }
    const balancers: string[] = [];
    for (let n = 1; n <= o.count; n++) {
      const bdir = join(dir, `nginx-${n}`);
      await mkdir(bdir);
      const b = await startNginx(bdir, replicas.slice(0, n));
      children.push(b.child);
      balancers.push(b.url);
    }
    return { hosts: h, balancers, inferPath: '/v2/models/heavy/infer', body, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Measures 1 and 2 replicas on hosts of `o.hostCpus` CPU, and predicts 2 from 1. */
export async function serveOnHosts(o: ServeOnHostsOptions): Promise<ServeRow[]> {
  let running: ServeHosts | undefined;
  const onInt = () => void (running?.close() ?? Promise.resolve()).then(() => process.exit(130));
  process.once('SIGINT', onInt);
  try {
    running = await startServeHosts({
      count: 2,
      hostCpus: o.hostCpus,
      periodUs: o.periodUs,
      rows: o.rows,
    });
    const { balancers, inferPath, body } = running;
    const measured: LoadResult[][] = [[], []];
    for (let r = 0; r < o.repeats; r++) {
      for (const [i, url] of balancers.entries()) {
        const res = await loadRun(`${url}${inferPath}`, body, o);
        measured[i]!.push(res);
        o.log(
          `  serve: ${i + 1} replica(s) × ${o.hostCpus} CPU, repeat ${r + 1}: ${res.achievedRate.toFixed(0)} req/s, p99 ${res.latencyMs.p99.toFixed(1)} ms, ${res.errors} errors`,
        );
      }
    }
    const rate = (i: number) => median(measured[i]!.map((x) => x.achievedRate));
    const p99 = (i: number) => median(measured[i]!.map((x) => x.latencyMs.p99));
    const one = rate(0);
    const two = predictMachines(one, 2, 'req/s on 2 hosts behind nginx', 'req/s');
    o.log(`  predicted 2: ${two.value.toFixed(0)} req/s — ${two.basis}`);
    return [
      { replicas: 1, predicted: one, measured: one, p99Ms: p99(0) },
      { replicas: 2, predicted: two.value, measured: rate(1), p99Ms: p99(1) },
    ];
  } finally {
    process.off('SIGINT', onInt);
    await running?.close();
  }
}
