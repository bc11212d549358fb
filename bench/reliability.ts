/**
 * `npm run bench:reliability`: the hostile-client figures of BENCHMARKS.md, each beside
 * the same attack on the server without the defence (the limit), in one run:
 *
 * - Large bodies: 40 concurrent 8 MiB JSON bodies against `mlscale serve` with a 64 MiB budget of
 *   bytes in flight, and with no budget (100 GiB). Peak RSS over the burst (VmHWM), RSS 5 s after,
 *   the answers by status, and liveness latency (median, max) polled every 50 ms during the burst.
 * - Slow uploads: N connections sending a body a byte a second, against a 3 s body timeout and
 *   against none (1 h). Connections the server still holds after 5 s, and liveness latency meanwhile.
 *
 * Loopback only; the server in its own process. Flags: --bodies N (40), --slow N (500).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, freePort, mlpBytes, root, stop, waitFor } from './serve-kit.js';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}
const bodies = flag('bodies', 40);
const slow = flag('slow', 500);
const MiB = 1024 * 1024;

function status(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
}

async function serve(repo: string, flags: string[]): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      join(root, 'bin/mlscale.js'),
      'serve',
      '--model-repository',
      repo,
      '--port',
      String(port),
      '--log-level',
      'error',
      '--no-dashboard',
      '--instances',
      '1',
      ...flags,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/v2/health/ready`);
  return { url, child };
}

/** Polls liveness every 50 ms until `done` settles; latencies in ms. */
async function pollLiveness(url: string, done: Promise<unknown>): Promise<number[]> {
  let finished = false;
  void done.finally(() => (finished = true));
  const out: number[] = [];
  while (!finished) {
    const t0 = performance.now();
    try {
      await fetch(`${url}/v2/health/live`);
      out.push(performance.now() - t0);
    } catch {
      out.push(NaN);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return out;
}

const median = (xs: number[]): number => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};

async function largeBodies(repo: string, budget: string) {
  const { url, child } = await serve(repo, ['--max-bytes-in-flight', budget]);
  try {
    const before = status(child.pid!, 'VmRSS');
    const rows = Math.floor((8 * MiB) / 90);
    const data = Array.from({ length: rows * 8 }, (_, i) => ((i * 7919) % 1000) / 1000 + 0.123456);
    const body = JSON.stringify({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 8], data }],
    });
    const burst = Promise.all(
      Array.from({ length: bodies }, () =>
        fetch(`${url}/v2/models/m/infer`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
        })
          .then(async (r) => (await r.text(), r.status))
          .catch(() => 0),
      ),
    );
    const live = await pollLiveness(url, burst);
    const statuses = await burst;
    const peak = status(child.pid!, 'VmHWM');
    await new Promise((r) => setTimeout(r, 5000));
    const afterRss = status(child.pid!, 'VmRSS');
    const counts: Record<string, number> = {};
    for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
    return {
      bodyMiB: body.length / MiB,
      before,
      peak,
      afterRss,
      counts,
      liveMedian: median(live),
      liveMax: Math.max(...live.filter((x) => !Number.isNaN(x))),
    };
  } finally {
    await stop(child);
  }
}

async function slowUploads(repo: string, bodyTimeoutMs: number) {
  const { url, child } = await serve(repo, [
    '--body-timeout-ms',
    String(bodyTimeoutMs),
    '--headers-timeout-ms',
    '2000',
  ]);
  const port = Number(new URL(url).port);
  const sockets: Socket[] = [];
  let cut = 0;
  try {
    for (let i = 0; i < slow; i++) {
      const s = connect({ host: '127.0.0.1', port });
      s.on('error', () => undefined);
      s.on('close', () => cut++);
      s.write('POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n');
      sockets.push(s);
    }
    const timer = setInterval(() => sockets.forEach((s) => s.writable && s.write(' ')), 1000);
    const wait = new Promise((r) => setTimeout(r, 5000));
    const live = await pollLiveness(url, wait);
    clearInterval(timer);
    return {
      held: slow - cut,
      liveMedian: median(live),
      liveMax: Math.max(...live.filter((x) => !Number.isNaN(x))),
    };
  } finally {
    sockets.forEach((s) => s.destroy());
    await stop(child);
  }
}

const dir = await mkdtemp(join(tmpdir(), 'mlscale-bench-reliability-'));
try {
  const repo = join(dir, 'repo');
  await mkdir(join(repo, 'm', '1'), { recursive: true });
  await writeFile(join(repo, 'm', '1', 'model.onnx'), mlpBytes(8, [16], 2));
  const mb = (b: number) => fmt(b / MiB);
  console.log(
    `| figure | with the defence | without (the limit) | ratio |\n| --- | --- | --- | --- |`,
  );
  const budget = await largeBodies(repo, '64M');
  const none = await largeBodies(repo, '100G');
  const line = (what: string, a: number, b: number, unit: string) =>
    console.log(`| ${what} | ${fmt(a, 1)} ${unit} | ${fmt(b, 1)} ${unit} | ${fmt(a / b, 2)} |`);
  console.log(
    `| ${bodies} concurrent ${fmt(budget.bodyMiB, 1)} MiB bodies: answers | ${JSON.stringify(budget.counts)} | ${JSON.stringify(none.counts)} | |`,
  );
  line(
    'peak RSS growth over the burst',
    (budget.peak - budget.before) / MiB,
    (none.peak - none.before) / MiB,
    'MiB',
  );
  line('RSS 5 s after the burst', budget.afterRss / MiB, none.afterRss / MiB, 'MiB');
  line('liveness during the burst, median', budget.liveMedian, none.liveMedian, 'ms');
  line('liveness during the burst, max', budget.liveMax, none.liveMax, 'ms');
  const cutOff = await slowUploads(repo, 3000);
  const held = await slowUploads(repo, 3_600_000);
  console.log(
    `| ${slow} slow uploads (1 byte/s): still held after 5 s | ${cutOff.held} | ${held.held} | |`,
  );
  line('liveness during the slow uploads, median', cutOff.liveMedian, held.liveMedian, 'ms');
  line('liveness during the slow uploads, max', cutOff.liveMax, held.liveMax, 'ms');
  void mb;
} finally {
  await rm(dir, { recursive: true, force: true });
}
