/**
 * `npm run bench:distributed`: what distributing batches over Redis costs, beside the floor.
 *
 * Sections (all by default; `--only dispatch,linear,throughput,batchsize` picks some):
 * - dispatch:   per-batch overhead with a no-op stage: inline, threads, bullmq (one
 *               `mlscale worker` at concurrency 1 and 16), and a bare BullMQ no-op job on the same
 *               Redis (a plain Queue + Worker) at the same concurrency;
 * - linear:     bullmq time against the number of batches (10, 100, 1000), fit a + b·n;
 * - throughput: a real training run with 1, 2 and 4 worker processes;
 * - batchsize:  bullmq against inline on the same training as the batch grows: the batch size at
 *               which bullmq's overhead falls below 5% of the work;
 * - profile:    where a no-op job's time goes, bullmq beside bare BullMQ at concurrency 16: CPU per
 *               job of the driver, the worker process and Redis, and Redis commands per job
 *               (`INFO commandstats`; Redis is global, so other clients' commands count too).
 *
 * Needs Redis: REDIS_URL, default redis://127.0.0.1:6379. Uses its own key prefix and deletes it.
 * Repeats each measurement (`--repeats`, default 3) and reports medians.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { openSource } from '../src/data/open-source.js';
import { linearFit, median } from '../src/analysis/fit.js';
import { BullmqExecutor } from '../src/pipeline/executors/bullmq/bullmq-executor.js';
import { createExecutor, type Executor } from '../src/pipeline/executors/index.js';
import { deleteKeysUnder } from '../src/pipeline/executors/bullmq/redis-connection.js';
import { batchCall, batchInputs, type BatchInput } from '../src/pipeline/batch-stream.js';
import { resolveTrainingOptions, type TrainingOptions } from '../src/pipeline/options.js';
import { runTraining } from '../src/pipeline/run-training.js';
import { siblingModuleUrl } from '../src/util/module-url.js';
import { packageRoot } from '../src/util/package-root.js';

const { values: args } = parseArgs({
  options: { only: { type: 'string' }, repeats: { type: 'string' }, quick: { type: 'boolean' } },
});
const repeats = Number(args.repeats ?? 3);
const sections = new Set((args.only ?? 'dispatch,linear,throughput,batchsize,profile').split(','));
const quick = args.quick === true;
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `mlscale-bench-${randomBytes(4).toString('hex')}`;
const tasks = siblingModuleUrl(import.meta.url, '../src/pipeline/tasks');
const log = (line = '') => process.stdout.write(line + '\n');
const fmt = (v: number, d = 2) => v.toFixed(d);
const children: ChildProcess[] = [];

log(`# mlscale distributed benchmark — ${new Date().toISOString()}`);
log(
  `machine: ${cpus()[0]?.model ?? 'cpu'} × ${availableParallelism()}, node ${process.versions.node}; Redis ${url}; repeats ${repeats} (medians)`,
);

/** Starts a process and waits for its first line containing `ready`. */
async function startProcess(argv: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (d: Buffer) => {
      text += d;
      if (text.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited with ${code}`)));
  });
  return child;
}

async function stopAll(list: ChildProcess[]): Promise<void> {
  await Promise.all(
    list.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
        }),
    ),
  );
}

const mlscale = join(packageRoot(), 'bin', 'mlscale.js');
const workers = (n: number, concurrency = 1, extra: string[] = []) =>
  Promise.all(
    Array.from({ length: n }, () =>
      startProcess([
        mlscale,
        'worker',
        '--redis',
        url,
        '--prefix',
        prefix,
        '--concurrency',
        String(concurrency),
        ...extra,
      ]),
    ),
  );

/** A measurement that can be repeated: one call runs `n` jobs and gives µs per job. */
interface Runner {
  /** The worker process, when the runner started it. */
  readonly pid?: number;
  once(): Promise<number>;
  close(): Promise<void>;
}

/** `n` no-op jobs on a bare BullMQ queue, added in bulk, awaited via QueueEvents. */
async function bareRunner(n: number, concurrency: number): Promise<Runner> {
  const worker = await startProcess([
    siblingModuleUrl(import.meta.url, './bare-bullmq-worker').replace('file://', ''),
    url,
    prefix,
    String(concurrency),
  ]);
  const queue = new Queue('bare', { connection: { url }, prefix });
  const events = new QueueEvents('bare', { connection: { url }, prefix });
  await events.waitUntilReady();
  return {
    pid: worker.pid,
    async once() {
      let done = 0;
      const all = new Promise<void>((resolve) => {
        const on = () => {
          if (++done === n) {
            events.off('completed', on);
            resolve();
          }
        };
        events.on('completed', on);
      });
      const t0 = performance.now();
      await queue.addBulk(
        Array.from({ length: n }, (_, i) => ({
          name: 'noop',
          data: { i },
          opts: { removeOnComplete: true },
        })),
      );
      await all;
      return ((performance.now() - t0) * 1000) / n;
    },
    async close() {
      await events.close();
      await queue.close();
      await stopAll([worker]);
    },
  };
}

/** `n` no-op pipeline tasks on `executor` (synthetic batch references), in maps of `perMap` calls. */
async function noopRunner(executor: Executor, n: number, perMap: number): Promise<Runner> {
  const source = openSource(`synthetic:rows=${n * 256},features=16,classes=2,seed=1`);
  const schema = await source.inferSchema({ label: 'label' });
  const context = { schema, split: { seed: 1, fraction: 0.2 } };
  const inputs: BatchInput[] = [];
  for await (const input of batchInputs(source, schema, { batchRows: 256, onBadRow: 'error' }))
    inputs.push(input);
  return {
    async once() {
      const t0 = performance.now();
      for (let i = 0; i < inputs.length; i += perMap) {
        await executor.map(
          { module: tasks, name: 'noopTask' },
          inputs.slice(i, i + perMap).map((item) => batchCall({ context, ...item })),
        );
      }
      return ((performance.now() - t0) * 1000) / inputs.length;
    },
    close: () => executor.close(),
  };
}

/** A warm-up run, then `repeats` timed runs. */
async function timed(runner: Runner): Promise<number[]> {
  await runner.once();
  const times: number[] = [];
  for (let rep = 0; rep < repeats; rep++) times.push(await runner.once());
  return times;
}

/** Per-batch time of `n` no-op tasks on `executor`, in maps of `perMap` calls. */
async function noop(executor: Executor, n: number, perMap: number): Promise<number[]> {
  return timed(await noopRunner(executor, n, perMap));
}

const bullmq = (concurrency: number) => new BullmqExecutor({ redis: url, prefix, concurrency });

async function dispatch(): Promise<void> {
  const n = quick ? 200 : 1000;
  log(
    `\n## Dispatch overhead per batch, no-op stage (${n} batches by reference, one map of all of them)`,
  );
  log(
    'bullmq and the bare BullMQ floor run alternately, both worker processes up, so both see the same load.\n',
  );
  log('| executor | µs per batch (median) | runs |');
  log('| --- | --- | --- |');
  const row = (name: string, times: number[]) =>
    log(`| ${name} | ${fmt(median(times), 1)} | ${times.map((t) => fmt(t, 1)).join(', ')} |`);
  for (const [kind, w] of [
    ['inline', 1],
    ['threads', 2],
  ] as const) {
    const executor = createExecutor(kind, { workers: w });
    row(kind === 'threads' ? 'threads (2)' : kind, await noop(executor, n, n));
    await executor.close();
  }
  const ratios: Record<string, number[]> = {};
  // Default workers run a stage measured to be trivial on their main thread (the no-op stage
  // becomes one during the warm-up run); `--no-inline` keeps it on a worker thread: both shown.
  for (const [concurrency, inline] of [
    [1, true],
    [16, true],
    [1, false],
    [16, false],
  ] as const) {
    const procs = await workers(1, concurrency, inline ? [] : ['--no-inline']);
    const ours = await noopRunner(bullmq(concurrency), n, n);
    const floor = await bareRunner(n, concurrency);
    await ours.once();
    await floor.once();
    const a: number[] = [];
    const b: number[] = [];
    for (let rep = 0; rep < repeats; rep++) {
      a.push(await ours.once());
      b.push(await floor.once());
    }
    await ours.close();
    await floor.close();
    await stopAll(procs);
    row(`bullmq, 1 worker × concurrency ${concurrency}${inline ? '' : ', --no-inline'}`, a);
    row(`bare BullMQ no-op job, concurrency ${concurrency}`, b);
    ratios[`${concurrency}${inline ? '' : 'n'}`] = a.map((v, i) => v / b[i]!);
  }
  const show = (key: string) =>
    `${fmt(median(ratios[key]!))}× at concurrency ${key.replace('n', '')} (runs ${ratios[key]!.map((r) => fmt(r)).join(', ')})`;
  log(
    `\nbullmq / bare BullMQ, median of the paired runs: ${show('1')}; ${show('16')} (target ≤ 1.5×).`,
  );
  log(`With --no-inline (the no-op stage on a worker thread): ${show('1n')}; ${show('16n')}.`);
}

async function linear(): Promise<void> {
  log(
    '\n## bullmq time against the number of batches (no-op stage, one worker, maps of 64 batches)',
  );
  log('| batches | ms (median) | runs |');
  log('| --- | --- | --- |');
  const procs = await workers(1, 1);
  const executor = bullmq(1);
  const xs: number[] = [];
  const ys: number[] = [];
  for (const n of quick ? [10, 100] : [10, 100, 1000]) {
    const times = (await noop(executor, n, 64)).map((us) => (us * n) / 1000);
    xs.push(n);
    ys.push(median(times));
    log(`| ${n} | ${fmt(median(times), 1)} | ${times.map((t) => fmt(t, 1)).join(', ')} |`);
  }
  await executor.close();
  await stopAll(procs);
  const f = linearFit(xs, ys);
  log(`\nfit: t = ${fmt(f.a, 1)} ms + ${fmt(f.b * 1000, 1)} µs × batches (R² ${fmt(f.r2, 4)})`);
}

async function timeRun(
  options: Partial<TrainingOptions>,
  executor: Executor,
): Promise<{ total: number; rows: number; trainStage: number }> {
  const o = resolveTrainingOptions({ out: '/dev/null', ...options });
  const r = await runTraining(openSource(o.data), executor, o);
  return {
    total: r.timings.total,
    rows: r.data.rows,
    trainStage: r.timings.stages.train + r.timings.stages.preprocess,
  };
}

async function throughput(): Promise<void> {
  const rows = quick ? 20_000 : 80_000;
  const base: Partial<TrainingOptions> = {
    data: `synthetic:rows=${rows},features=32,classes=4,seed=2`,
    epochs: 2,
    batchSize: 2000,
    syncEvery: 4,
    hidden: [64],
  };
  log(
    `\n## Training throughput with 1, 2 and 4 worker processes (${rows} rows × 32 features, MLP 64, 2 epochs, 2000-row batches)`,
  );
  log('| executor | s (median) | rows/s | runs |');
  log('| --- | --- | --- | --- |');
  const inline = createExecutor('inline');
  const t: number[] = [];
  for (let rep = 0; rep < repeats; rep++)
    t.push((await timeRun({ ...base, executor: 'inline' }, inline)).total / 1000);
  log(
    `| inline | ${fmt(median(t))} | ${Math.round((rows * 2) / median(t)).toLocaleString('en-US')} | ${t.map((v) => fmt(v)).join(', ')} |`,
  );
  for (const n of [1, 2, 4]) {
    const procs = await workers(n, 1);
    const executor = bullmq(n);
    const times: number[] = [];
    for (let rep = 0; rep < repeats; rep++)
      times.push(
        (await timeRun({ ...base, executor: 'bullmq', redis: url }, executor)).total / 1000,
      );
    await executor.close();
    await stopAll(procs);
    log(
      `| bullmq, ${n} worker process${n > 1 ? 'es' : ''} | ${fmt(median(times))} | ${Math.round((rows * 2) / median(times)).toLocaleString('en-US')} | ${times.map((v) => fmt(v)).join(', ')} |`,
    );
  }
  log(
    `\n(${availableParallelism()} cores here: more worker processes than cores cannot add throughput.)`,
  );
}

async function batchsize(): Promise<void> {
  const rows = quick ? 16_384 : 65_536;
  log(
    `\n## bullmq overhead against batch size (${rows} rows × 32 features, MLP 64, 1 epoch; one worker process vs inline)`,
  );
  log('| batch rows | inline s | bullmq s | overhead |');
  log('| --- | --- | --- | --- |');
  const procs = await workers(1, 1);
  const executor = bullmq(1);
  const inline = createExecutor('inline');
  let below: number | undefined;
  for (const batchSize of [64, 256, 1024, 4096, 16_384]) {
    const base: Partial<TrainingOptions> = {
      data: `synthetic:rows=${rows},features=32,classes=4,seed=2`,
      epochs: 1,
      batchSize,
      syncEvery: 4,
      hidden: [64],
    };
    const a: number[] = [];
    const b: number[] = [];
    for (let rep = 0; rep < repeats; rep++) {
      a.push((await timeRun({ ...base, executor: 'inline' }, inline)).total);
      b.push((await timeRun({ ...base, executor: 'bullmq', redis: url }, executor)).total);
    }
    const overhead = (median(b) - median(a)) / median(b);
    if (below === undefined && overhead < 0.05) below = batchSize;
    log(
      `| ${batchSize} | ${fmt(median(a) / 1000)} | ${fmt(median(b) / 1000)} | ${fmt(overhead * 100, 1)}% |`,
    );
  }
  await executor.close();
  await stopAll(procs);
  log(
    below === undefined
      ? '\nbullmq overhead stayed above 5% at every batch size tried.'
      : `\nbullmq overhead falls below 5% of the work at about ${below} rows per batch (this model, this machine).`,
  );
}

/** CPU time of a process so far, in µs, from /proc (Linux; clock ticks of 10 ms). */
function processCpu(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
  } catch {
    return NaN;
  }
}

/** Redis's CPU time (µs) and per-command call counts so far. */
async function redisStats(client: Redis): Promise<{ cpu: number; calls: Map<string, number> }> {
  const cpu = await client.info('cpu');
  const used = (key: string) => Number(new RegExp(`${key}:([\\d.]+)`).exec(cpu)?.[1] ?? NaN);
  const calls = new Map<string, number>();
  for (const m of (await client.info('commandstats')).matchAll(/cmdstat_(\S+?):calls=(\d+)/g))
    calls.set(m[1]!, Number(m[2]));
  return { cpu: (used('used_cpu_sys') + used('used_cpu_user')) * 1e6, calls };
}

/** Per-job CPU of the driver (this process), the worker process and Redis, over one batch of jobs. */
async function profiled(
  worker: number,
  n: number,
  run: () => Promise<void>,
): Promise<{
  wall: number;
  driver: number;
  worker: number;
  redis: number;
  calls: Map<string, number>;
}> {
  const client = new Redis(url);
  try {
    const r0 = await redisStats(client);
    const w0 = processCpu(worker);
    const d0 = process.cpuUsage();
    const t0 = performance.now();
    await run();
    const wall = ((performance.now() - t0) * 1000) / n;
    const d = process.cpuUsage(d0);
    const w1 = processCpu(worker);
    const r1 = await redisStats(client);
    const calls = new Map<string, number>();
    for (const [k, v] of r1.calls) {
      const per = (v - (r0.calls.get(k) ?? 0)) / n;
      if (per >= 0.05) calls.set(k, per);
    }
    return {
      wall,
      driver: (d.user + d.system) / n,
      worker: (w1 - w0) / n,
      redis: (r1.cpu - r0.cpu) / n,
      calls,
    };
  } finally {
    client.disconnect();
  }
}

async function profile(): Promise<void> {
  const n = quick ? 300 : 1000;
  const concurrency = 16;
  log(
    `\n## Where a no-op job's time goes (${n} jobs, one worker process, concurrency ${concurrency}; µs per job, medians of ${repeats}, the two run alternately)`,
  );
  log('| | wall | driver CPU | worker CPU | Redis CPU | Redis commands per job |');
  log('| --- | --- | --- | --- | --- | --- |');
  const [proc] = await workers(1, concurrency);
  const ours = await noopRunner(bullmq(concurrency), n, n);
  const floor = await bareRunner(n, concurrency);
  await ours.once();
  await floor.once();
  const a = [];
  const b = [];
  for (let rep = 0; rep < repeats; rep++) {
    a.push(await profiled(proc!.pid!, n, () => ours.once().then(() => undefined)));
    b.push(await profiled(floor.pid!, n, () => floor.once().then(() => undefined)));
  }
  await ours.close();
  await floor.close();
  await stopAll([proc!]);
  const row = (name: string, runs: Awaited<ReturnType<typeof profiled>>[]) => {
    const m = (f: (r: (typeof runs)[number]) => number) => fmt(median(runs.map(f)), 0);
    const calls = [...runs[0]!.calls]
      .sort((x, y) => y[1] - x[1])
      .map(([k, v]) => `${k} ${fmt(v, 1)}`)
      .join(', ');
    log(
      `| ${name} | ${m((r) => r.wall)} | ${m((r) => r.driver)} | ${m((r) => r.worker)} | ${m((r) => r.redis)} | ${calls} |`,
    );
  };
  row('bullmq', a);
  row('bare BullMQ', b);
}

try {
  if (sections.has('profile')) await profile();
  if (sections.has('dispatch')) await dispatch();
  if (sections.has('linear')) await linear();
  if (sections.has('throughput')) await throughput();
  if (sections.has('batchsize')) await batchsize();
} finally {
  await stopAll(children);
  const client = new Redis(url);
  await deleteKeysUnder(client, prefix);
  client.disconnect();
}
