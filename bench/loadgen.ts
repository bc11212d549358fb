/**
 * `npm run bench:loadgen`: is `mlscale load` fast enough and right?
 *
 * 1. Histogram cost: hdr-histogram-js's WebAssembly against its JavaScript implementation, ns per
 *    recorded value (the generator records one or two values per request).
 * 2. Throughput: closed loop against a bare node:http server (bench/loadgen-target.ts), `mlscale
 *    load --mode closed` against wrk with the same connections and duration, alternating, medians
 *    of `--repeats`. Target: mlscale reaches at least 90% of wrk's requests/s.
 * 3. Percentile agreement: an open-loop run at a fixed rate against the same server with injected
 *    stalls (every answer due in the last 200 ms of each second is held to the second's end).
 *    The reference is computed the way wrk2 corrects for coordinated omission — latency = completion
 *    minus the request's *intended* send time — from the server's own log instead of from the
 *    generator: the i-th request to arrive is given the i-th slot of the ideal schedule,
 *    `t0 + i / rate`, where t0 is the earliest `arrival_i - i / rate` (the least-delayed request
 *    fixes the schedule's origin on the server's clock), and its latency is its completion time on
 *    the server minus that slot. Target: mlscale's percentiles within 10% of the reference's.
 *    Beside it, what a closed-loop generator (wrk) reports against the same stalls.
 *
 * Every process (server, wrk, `mlscale load`) is separate and shares this machine.
 * Flags: --repeats N (3), --duration S (10), --connections N (64), --rate N (1000), --quick.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import type { LoadResult } from '../src/analysis/loadgen.js';
import { packageRoot } from '../src/util/package-root.js';
import { freePort } from '../src/util/free-port.js';

const { values: args } = parseArgs({
  options: {
    repeats: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    rate: { type: 'string' },
    quick: { type: 'boolean' },
  },
});
const quick = args.quick === true;
const repeats = Number(args.repeats ?? (quick ? 1 : 3));
const duration = Number(args.duration ?? (quick ? 3 : 10));
const connections = Number(args.connections ?? 64);
const rate = Number(args.rate ?? 1000);
const stallPeriodMs = 1000;
const stallMs = 200;
const root = packageRoot();
const log = (line = '') => process.stdout.write(line + '\n');
const fmt = (v: number, d = 0) =>
  v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const body = JSON.stringify({
  inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [0.1, 0.2, 0.3, 0.4] }],
});

async function startTarget(
  period: number,
  stall: number,
): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [join(root, 'dist/bench/loadgen-target.js'), String(port), String(period), String(stall)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`target server exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}/v2/models/bare/infer`, child };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Output and CPU seconds (user + system, from /usr/bin/time) of a finished command. */
function run(cmd: string, argv: string[]): Promise<{ out: string; cpuS: number }> {
  const child = spawn('/usr/bin/time', ['-f', 'CPU %U %S', cmd, ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), (duration + 60) * 1000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(err);
      if (code === 0 && m) resolve({ out, cpuS: Number(m[1]) + Number(m[2]) });
      else reject(new Error(`${cmd} ${argv.join(' ')} exited with ${code}: ${err.slice(-500)}`));
    });
  });
}

/** CPU seconds a process has used so far (Linux /proc, clock ticks of 10 ms). */
async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function mlscaleLoad(
  url: string,
  extra: string[],
  seconds = duration,
): Promise<LoadResult & { cpuS: number }> {
  const { out, cpuS } = await run(process.execPath, [
    join(root, 'bin/mlscale.js'),
    'load',
    '--url',
    url,
    '--body',
    bodyFile,
    '--connections',
    String(connections),
    '--duration',
    `${seconds}s`,
    '--json',
    ...extra,
  ]);
  return { ...(JSON.parse(out) as LoadResult), cpuS };
}

interface WrkResult {
  rps: number;
  /** ms, wrk's --latency distribution. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  requests: number;
  cpuS: number;
}

async function wrk(url: string, seconds = duration): Promise<WrkResult> {
  const { out, cpuS } = await run('wrk', [
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    '--latency',
    '-s',
    luaFile,
    url,
  ]);
  const ms = (re: RegExp): number => {
    const m = re.exec(out);
    if (!m) return NaN;
    return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
  };
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50: ms(/50%\s+([\d.]+)(us|ms|s)/),
    p90: ms(/90%\s+([\d.]+)(us|ms|s)/),
    p99: ms(/99%\s+([\d.]+)(us|ms|s)/),
    max: ms(/Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)/),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN),
    cpuS,
  };
}

/** ns per recordValue for the WebAssembly and the JavaScript histograms. */
async function histogramCost(): Promise<{ wasm: number; js: number }> {
  await hdr.initWebAssembly();
  const values = Float64Array.from(
    { length: 4096 },
    (_, i) => 1 + Math.floor(((i * 7919) % 4096) ** 2 / 8),
  );
  const cost = (useWebAssembly: boolean) => {
    const h = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 3_600_000_000,
      numberOfSignificantValueDigits: 3,
      useWebAssembly,
    });
    const n = 2_000_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) h.recordValue(values[i & 4095]!);
    const ns = Number(process.hrtime.bigint() - t0) / n;
    h.destroy();
    return ns;
  };
  const wasm: number[] = [];
  const js: number[] = [];
  for (let r = 0; r < 3; r++) {
    wasm.push(cost(true));
    js.push(cost(false));
  }
  return { wasm: median(wasm), js: median(js) };
}

/** wrk2-style corrected percentiles (ms) from the server's log of one open-loop run at `rate`. */
function reference(
  logged: { arrivals: number[]; completions: number[] },
  offered: number,
): Record<string, number> {
  const { arrivals, completions } = logged;
  const stepUs = 1e6 / offered;
  let t0 = Infinity;
  for (let i = 0; i < arrivals.length; i++) t0 = Math.min(t0, arrivals[i]! - i * stepUs);
  const lat = arrivals
    .map((_, i) => (completions[i]! - (t0 + i * stepUs)) / 1000)
    .sort((a, b) => a - b);
  const at = (p: number) =>
    lat[Math.min(lat.length - 1, Math.max(0, Math.ceil((p / 100) * lat.length) - 1))]!;
  const service = arrivals.map((a, i) => (completions[i]! - a) / 1000).sort((a, b) => a - b);
  const sat = (p: number) =>
    service[Math.min(service.length - 1, Math.ceil((p / 100) * service.length) - 1)]!;
  return {
    n: lat.length,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max: lat.at(-1)!,
    serviceP99: sat(99),
    serviceMax: service.at(-1)!,
  };
}

let bodyFile = '';
let luaFile = '';

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mlscale-bench-loadgen-'));
  bodyFile = join(dir, 'req.json');
  luaFile = join(dir, 'post.lua');
  await writeFile(bodyFile, body);
  await writeFile(
    luaFile,
    `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\n`,
  );
  log(`# mlscale load benchmark — ${new Date().toISOString()}`);
  log(
    `machine: ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, node ${process.versions.node}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  log(`${connections} connections, ${duration} s runs, repeats ${repeats} (medians); wrk -t1`);
  const children: ChildProcess[] = [];
  try {
    const hist = await histogramCost();
    log(
      `\n## HdrHistogram recordValue: WebAssembly ${hist.wasm.toFixed(1)} ns, JavaScript ${hist.js.toFixed(1)} ns (${(hist.js / hist.wasm).toFixed(1)}x)`,
    );

    log('\n## Closed loop against a bare node:http server (requests/s)');
    const bare = await startTarget(0, 0);
    children.push(bare.child);
    await wrk(bare.url, 2);
    await mlscaleLoad(bare.url, ['--mode', 'closed'], 2);
    const wrkRps: number[] = [];
    const ourRps: number[] = [];
    // CPU microseconds per request of each generator and of the server during its runs: when the
    // machine is busy, server and generator share what CPU there is, and requests/s follows
    // 1 / (server + generator cost per request).
    const cost = {
      wrk: [] as number[],
      ours: [] as number[],
      serverWrk: [] as number[],
      serverOurs: [] as number[],
    };
    const pid = bare.child.pid!;
    for (let r = 0; r < repeats; r++) {
      // Alternate which goes first, so a drift in the machine's load falls on both.
      const order: ('wrk' | 'mlscale')[] = r % 2 === 0 ? ['wrk', 'mlscale'] : ['mlscale', 'wrk'];
      for (const g of order) {
        const before = await cpuSeconds(pid);
        if (g === 'wrk') {
          const w = await wrk(bare.url);
          wrkRps.push(w.rps);
          cost.wrk.push((w.cpuS / w.requests) * 1e6);
          cost.serverWrk.push((((await cpuSeconds(pid)) - before) / w.requests) * 1e6);
        } else {
          const m = await mlscaleLoad(bare.url, ['--mode', 'closed']);
          ourRps.push(m.achievedRate);
          cost.ours.push((m.cpuS / m.requests) * 1e6);
          cost.serverOurs.push((((await cpuSeconds(pid)) - before) / m.requests) * 1e6);
        }
      }
      log(
        `  run ${r + 1}: wrk ${fmt(wrkRps.at(-1)!)}/s, mlscale load ${fmt(ourRps.at(-1)!)}/s (${((ourRps.at(-1)! / wrkRps.at(-1)!) * 100).toFixed(1)}%); ` +
          `CPU µs per request: wrk ${fmt(cost.wrk.at(-1)!, 1)}, mlscale load ${fmt(cost.ours.at(-1)!, 1)}, server ${fmt(cost.serverWrk.at(-1)!, 1)} / ${fmt(cost.serverOurs.at(-1)!, 1)}`,
      );
    }
    // The median of the paired runs' ratios: each pair ran back to back, on the same machine state.
    const ratio = median(ourRps.map((v, i) => v / wrkRps[i]!));
    log(
      `  median: wrk ${fmt(median(wrkRps))}/s, mlscale load ${fmt(median(ourRps))}/s; median of the paired ratios ${(ratio * 100).toFixed(1)}% of wrk (target ≥ 90%: ${ratio >= 0.9 ? 'met' : 'NOT met'})`,
    );
    const [w, m, sw, sm] = [
      median(cost.wrk),
      median(cost.ours),
      median(cost.serverWrk),
      median(cost.serverOurs),
    ];
    log(
      `  median CPU µs per request: wrk ${fmt(w, 1)}, mlscale load ${fmt(m, 1)} (its process start included), server ${fmt(sw, 1)} (under wrk) / ${fmt(sm, 1)} (under mlscale load); ` +
        `if server and generator share one CPU budget, mlscale load / wrk ≈ (server + wrk) / (server + mlscale) = ${(((sw + w) / (sm + m)) * 100).toFixed(0)}%`,
    );
    await stopChild(bare.child);

    log(
      `\n## Open loop at ${rate}/s against the stalling server (${stallMs} ms stall every ${stallPeriodMs} ms): percentiles in ms`,
    );
    const stalling = await startTarget(stallPeriodMs, stallMs);
    children.push(stalling.child);
    const control = stalling.url.replace(/\/v2\/.*$/, '');
    const keys = ['p50', 'p90', 'p99', 'p999', 'max'] as const;
    const ratios: Record<string, number[]> = Object.fromEntries(keys.map((k) => [k, []]));
    log('  run  | figure      | ' + keys.map((k) => k.padStart(8)).join(' | '));
    for (let r = 0; r < repeats; r++) {
      await fetch(`${control}/__reset`).then((res) => res.text());
      const ours = await mlscaleLoad(stalling.url, ['--rate', String(rate)]);
      const logged = (await (await fetch(`${control}/__log`)).json()) as {
        arrivals: number[];
        completions: number[];
      };
      const ref = reference(logged, rate);
      for (const k of keys) ratios[k]!.push(ours.latencyMs[k] / ref[k]!);
      log(
        `  ${r + 1}    | mlscale     | ` +
          keys.map((k) => fmt(ours.latencyMs[k], 2).padStart(8)).join(' | ') +
          `   (${ours.requests} requests, ${ours.errors} errors${ours.generatorNote ? '; ' + ours.generatorNote : ''})`,
      );
      log(
        `       | reference   | ` +
          keys.map((k) => fmt(ref[k]!, 2).padStart(8)).join(' | ') +
          `   (${ref.n} logged; server-side service time p99 ${fmt(ref.serviceP99!, 2)}, max ${fmt(ref.serviceMax!, 2)})`,
      );
    }
    const worst = Math.max(...keys.map((k) => Math.abs(median(ratios[k]!) - 1)));
    log(
      '  median mlscale / reference: ' +
        keys.map((k) => `${k} ${median(ratios[k]!).toFixed(3)}`).join(', ') +
        ` → worst ${(worst * 100).toFixed(1)}% off (target ≤ 10%: ${worst <= 0.1 ? 'met' : 'NOT met'})`,
    );
    const closedWrk = await wrk(stalling.url);
    log(
      `  wrk (closed loop, ${connections} connections) against the same stalls: ${fmt(closedWrk.rps)}/s, p50 ${fmt(closedWrk.p50, 2)}, p90 ${fmt(closedWrk.p90, 2)}, p99 ${fmt(closedWrk.p99, 2)}, max ${fmt(closedWrk.max, 2)}`,
    );
    const closedOurs = await mlscaleLoad(stalling.url, ['--mode', 'closed']);
    const l = closedOurs.latencyMs;
    log(
      `  mlscale load --mode closed against the same stalls: ${fmt(closedOurs.achievedRate)}/s, p50 ${fmt(l.p50, 2)}, p90 ${fmt(l.p90, 2)}, p99 ${fmt(l.p99, 2)}, max ${fmt(l.max, 2)}`,
    );
  } finally {
    for (const c of children) await stopChild(c);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
