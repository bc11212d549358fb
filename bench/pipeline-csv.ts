/**
 * `npm run bench:pipeline -- --only csv`: the batch pipeline on a user's own CSV file, with its
 * peers and limits in the same run.
 *
 * On a generated table (`make-table.ts`: 20 numeric columns, 2 categorical, a binary label, ~2%
 * missing), it measures:
 * - parsing on one core: mlscale's scan + parse, csv-parse, a bare byte loop, pandas' read_csv;
 * - the whole run (read, fit, train, evaluate) inline and on 1 and 2 threads, beside the
 *   machine's two-thread ceiling for the same work (bare threads that read, parse and train);
 * - what the batch cache buys a pass: the first pass over the text against a pass over the cache,
 *   and each training epoch against the first pass;
 * - the whole run against pandas read_csv + scikit-learn's MLPClassifier (same hidden layer, same
 *   epochs, same held-out rows), with held-out accuracy;
 * - peak memory with the disk cache at 1x and 4x the rows, and the memory cache within its budget;
 * - small real tables (scikit-learn's bundled datasets, exported to CSV): default `mlscale train`
 *   against LogisticRegression / Ridge on the same held-out rows, mean of 3 seeds.
 *
 * @module
 */
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { parse } from 'csv-parse';
import { median } from '../src/analysis/fit.js';
import { CsvSource } from '../src/data/csv-source.js';
import { openSource } from '../src/data/open-source.js';
import type { BatchSpan } from '../src/data/types.js';
import { BatchCache } from '../src/data/batch-cache.js';
import { createExecutor } from '../src/pipeline/executors/index.js';
import { batchCall, windows } from '../src/pipeline/batch-stream.js';
import { DataPasses } from '../src/pipeline/data-passes.js';
import { resolveTrainingOptions, type TrainingOptions } from '../src/pipeline/options.js';
import { runTraining, type TrainingResult } from '../src/pipeline/run-training.js';
import { siblingModuleUrl } from '../src/util/module-url.js';
import { packageRoot } from '../src/util/package-root.js';
import { ceilingWork, type CeilingWork } from './csv-ceiling-work.js';
import { writeTable } from './make-table.js';

const python = '/usr/bin/python3';
const tasks = siblingModuleUrl(import.meta.url, '../src/pipeline/tasks');
const fmt = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : String(v));
const mb = (bytes: number) => bytes / 1e6;

/** What the section is given. */
export interface CsvSectionOptions {
  readonly repeats: number;
  readonly quick: boolean;
  readonly log: (line?: string) => void;
}

export async function csvSection({ repeats, quick, log }: CsvSectionOptions): Promise<void> {
  const rows = quick ? 200_000 : 2_000_000;
  const epochs = 2;
  const dir = await mkdtemp(join(tmpdir(), 'mlscale-bench-csv-'));
  try {
    const file = join(dir, 'table.csv');
    await writeTable({ rows, out: file });
    const size = (await stat(file)).size;
    log(
      `\n## A user's CSV file: ${rows.toLocaleString('en-US')} rows, ${fmt(mb(size), 0)} MB (20 numeric columns, 2 categorical, a binary label, ~2% missing)`,
    );
    const sklearn = spawnSync(
      python,
      ['-c', 'import sklearn, pandas; print(sklearn.__version__, pandas.__version__)'],
      { encoding: 'utf8' },
    );
    const peers = sklearn.status === 0 ? sklearn.stdout.trim().split(' ') : undefined;
    if (!peers)
      log(
        `(scikit-learn/pandas are not importable by ${python}: apt-get install python3-sklearn python3-pandas; their columns are left out)`,
      );

    await parsing(file, size, repeats, peers !== undefined, log);
    const runs = await wholeRun(file, epochs, repeats, log);
    await cachePasses(file, log);
    if (peers) await againstSklearn(file, runs, epochs, repeats, peers, log);
    await memory(dir, quick, log);
    if (peers) await smallTables(dir, log);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Parsing throughput on one core. */
async function parsing(
  file: string,
  size: number,
  repeats: number,
  pandas: boolean,
  log: (l?: string) => void,
): Promise<void> {
  const source = new CsvSource(file);
  const schema = await source.inferSchema({ label: 'churned' });
  const time = async (f: () => Promise<unknown>) => {
    const t: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t0 = performance.now();
      await f();
      t.push(performance.now() - t0);
    }
    return median(t);
  };
  const mlscale = await time(async () => {
    for await (const batch of source.batches(schema, { batchRows: 8192, onBadRow: 'error' }))
      void batch;
  });
  const csvParse = await time(async () => {
    let n = 0;
    for await (const record of createReadStream(file).pipe(parse({ relax_column_count: true })))
      n += (record as string[]).length > 0 ? 1 : 0;
    return n;
  });
  const byteLoop = await time(async () => {
    let lines = 0;
    for await (const chunk of createReadStream(file, {
      highWaterMark: 1 << 20,
    }) as AsyncIterable<Buffer>) {
      for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
    }
    return lines;
  });
  let pandasMs = NaN;
  if (pandas) {
    const t: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const out = spawnSync(
        python,
        [
          '-c',
          `import time, pandas as pd\nt=time.perf_counter(); pd.read_csv(${JSON.stringify(file)}); print(time.perf_counter()-t)`,
        ],
        { encoding: 'utf8' },
      );
      t.push(Number(out.stdout) * 1000);
    }
    pandasMs = median(t);
  }
  const rate = (ms: number) => mb(size) / (ms / 1000);
  log('\n### Parsing on one core (MB/s, median)');
  log('| reader | MB/s | what it produces |');
  log('| --- | --- | --- |');
  log(
    `| mlscale (scan + byte-level parse) | **${fmt(rate(mlscale), 0)}** | raw batches: float32 columns, dictionary-coded categories |`,
  );
  log(`| csv-parse 7 | ${fmt(rate(csvParse), 0)} | arrays of strings |`);
  log(
    `| pandas ${pandas ? '' : '(not installed) '}read_csv (C parser) | ${fmt(rate(pandasMs), 0)} | a DataFrame |`,
  );
  log(
    `| a bare byte loop (counting line breaks) | ${fmt(rate(byteLoop), 0)} | nothing: the memory-speed bound |`,
  );
}

interface Run {
  readonly total: number;
  readonly result: TrainingResult;
}

async function timeRun(options: Partial<TrainingOptions>): Promise<Run> {
  const o = resolveTrainingOptions({ out: '/dev/null', ...options });
  const executor = createExecutor(o.executor, { workers: o.workers });
  try {
    const result = await runTraining(openSource(o.data), executor, o);
    return { total: result.timings.total, result };
  } finally {
    await executor.close();
  }
}

/** A whole run of `mlscale train` as a process of its own, from its --json summary. */
interface ProcessRun {
  /** The run's own total (read, fit, train, evaluate, export), ms. */
  readonly total: number;
  readonly phases: { readonly fit: number; readonly train: number; readonly evaluate: number };
  readonly metrics: TrainingResult['metrics'];
}

/** What the runs below read of `mlscale train --json`. */
interface TrainSummary {
  readonly metrics: TrainingResult['metrics'];
  readonly timings: { readonly total: number; readonly phases: ProcessRun['phases'] };
  readonly memory: { readonly maxRssBytes: number };
  readonly cache: { readonly memoryBytes: number; readonly totalBytes: number };
}

/** `mlscale train` with `args` as a process of its own; resolves to its --json summary. */
function trainJson(args: string[]): Promise<TrainSummary> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(packageRoot(), 'bin', 'mlscale.js'), 'train', ...args, '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`mlscale train ${args.join(' ')} failed: ${err}`));
      resolve(JSON.parse(out) as TrainSummary);
    });
  });
}

/**
 * A whole run in a fresh process, as a user runs it: every executor starts from the same clean
 * process (a main thread that has run the sections before is slower on the same work than a
 * fresh one, which made inline look slower than it is).
 */
async function trainProcess(args: string[], artifact: string): Promise<ProcessRun> {
  const s = await trainJson([...args, '--out', artifact]);
  return { total: s.timings.total, phases: s.timings.phases, metrics: s.metrics };
}

/** Inline, 1 and 2 threads on the whole run, and the bare-thread ceiling. */
async function wholeRun(
  file: string,
  epochs: number,
  repeats: number,
  log: (l?: string) => void,
): Promise<Record<string, ProcessRun[]>> {
  const base = [
    '--data',
    file,
    '--label',
    'churned',
    '--epochs',
    String(epochs),
    '--model',
    'mlp',
    '--hidden',
    '64',
  ];
  const configs = {
    inline: ['--executor', 'inline'],
    'threads (1)': ['--executor', 'threads', '--workers', '1'],
    'threads (2)': ['--executor', 'threads', '--workers', '2'],
  } as const;
  const runs: Record<string, ProcessRun[]> = { inline: [], 'threads (1)': [], 'threads (2)': [] };
  for (let rep = 0; rep < repeats; rep++) {
    for (const [name, c] of Object.entries(configs))
      runs[name]!.push(await trainProcess([...base, ...c], join(dirname(file), 'artifact')));
  }
  // The ceiling's inputs (schema, preprocessing, model), from one run in this process.
  const fitted = (
    await timeRun({
      data: file,
      label: 'churned',
      epochs: 1,
      model: 'mlp',
      hidden: [64],
      executor: 'inline',
    })
  ).result;
  const ceiling = await bareCeiling(file, fitted, epochs, repeats);
  const med = (name: string) => median(runs[name]!.map((r) => r.total));
  const ratio = med('inline') / med('threads (2)');
  const accuracy = (name: string) => runs[name]![0]!.metrics;
  log(
    `\n### The whole run (read, fit, train ${epochs} epochs, evaluate; MLP ${fitted.spec.inputs}-64-2, batch 4,096 rows)`,
  );
  log('| executor | whole run (s, median) | fit | train | evaluate | runs (s) |');
  log('| --- | --- | --- | --- | --- | --- |');
  for (const name of Object.keys(configs)) {
    const mid = runs[name]!.slice().sort((a, b) => a.total - b.total)[
      Math.floor(runs[name]!.length / 2)
    ]!;
    const p = mid.phases;
    log(
      `| ${name} | ${fmt(med(name) / 1000)} | ${fmt(p.fit / 1000)} | ${fmt(p.train / 1000)} | ${fmt(p.evaluate / 1000)} | ${runs[name]!.map((r) => fmt(r.total / 1000)).join(', ')} |`,
    );
  }
  const same = JSON.stringify(accuracy('inline')) === JSON.stringify(accuracy('threads (2)'));
  log(
    `threads (2) over inline: **${fmt(ratio)}x** (per repeat ${runs.inline!.map((r, i) => fmt(r.total / runs['threads (2)']![i]!.total)).join(', ')}); identical metrics on every executor: ${same ? 'yes' : 'NO'}`,
  );
  log(
    `this machine's two-thread ceiling for the same work (bare threads reading, parsing and training the same batches): **${fmt(ceiling.free)}x**; the pipeline reaches **${fmt((100 * ratio) / ceiling.free, 0)}%** of it`,
  );
  log(
    `the same bare threads meeting after every round of 4 batches, as synchronous data-parallel training must (no averaging, no messages: only the wait for the slower thread): **${fmt(ceiling.rounds)}x**; the pipeline reaches **${fmt((100 * ratio) / ceiling.rounds, 0)}%** of it`,
  );
  log(
    `(one bare worker thread takes ${fmt(ceiling.workerOverMain)}x the time of this bench process's main thread on the same work: a main thread that has run the sections before is slower than a fresh thread, which is why the runs above are each a fresh \`mlscale train\` process and the ceilings compare threads with threads)`,
  );
  return runs;
}

/** The bare-thread ceilings: free-running, and meeting after every round as the pipeline does. */
interface Ceilings {
  /** One worker thread over every batch against two threads over half each, each on its own. */
  readonly free: number;
  /** The same, the two threads meeting after each round of `syncEvery` batches. */
  readonly rounds: number;
  /** The one-thread run's time on a worker thread over its time on the main thread. */
  readonly workerOverMain: number;
}

/** Two bare threads on half the batches each, against one thread on all of them. */
async function bareCeiling(
  file: string,
  fitted: TrainingResult,
  epochs: number,
  repeats: number,
): Promise<Ceilings> {
  const source = new CsvSource(file);
  const spans: BatchSpan[] = [];
  for await (const span of source.byteRanges.spans(fitted.schema, {
    batchRows: 4096,
    onBadRow: 'error',
  }))
    spans.push(span);
  const url = new URL('./csv-ceiling-worker.js', import.meta.url);
  const syncEvery = 4;
  const work = (part: BatchSpan[], barrier?: CeilingWork['barrier']): CeilingWork => ({
    path: file,
    spans: part,
    schema: fitted.schema,
    preprocessing: fitted.preprocessing,
    spec: fitted.spec,
    epochs,
    minibatch: 64,
    ...(barrier ? { barrier } : {}),
  });
  const run = (parts: BatchSpan[][], synchronised: boolean) => {
    const state = new SharedArrayBuffer(8);
    const barrier = synchronised
      ? {
          state,
          parties: parts.length,
          every: syncEvery / parts.length,
          rounds: Math.ceil(spans.length / syncEvery),
        }
      : undefined;
    return Promise.all(
      parts.map(
        (part) =>
          new Promise<number>((resolve, reject) => {
            const worker = new Worker(url, { workerData: work(part, barrier) });
            worker.once('message', resolve);
            worker.once('error', reject);
          }),
      ),
    );
  };
  const halves = [spans.filter((_, i) => i % 2 === 0), spans.filter((_, i) => i % 2 === 1)];
  const free: number[] = [];
  const rounds: number[] = [];
  const workerOverMain: number[] = [];
  for (let rep = 0; rep < repeats; rep++) {
    const [one] = await run([spans], false);
    const main = await ceilingWork(work(spans));
    const two = Math.max(...(await run(halves, true)));
    const apart = Math.max(...(await run(halves, false)));
    free.push(one! / apart);
    rounds.push(one! / two);
    workerOverMain.push(one! / main);
  }
  return {
    free: median(free),
    rounds: median(rounds),
    workerOverMain: median(workerOverMain),
  };
}

/** A pass over the text against a pass over the cache, with the same cheap stage (statistics). */
async function cachePasses(file: string, log: (l?: string) => void): Promise<void> {
  const source = openSource(file);
  const schema = await source.inferSchema({ label: 'churned' });
  const options = { batchRows: 4096, onBadRow: 'error' } as const;
  const executor = createExecutor('threads', { workers: 2 });
  const cache = await BatchCache.open(source, schema, options, {
    mode: 'auto',
    memoryBytes: 4 * 1024 ** 3,
    remote: false,
  });
  try {
    const passes = new DataPasses(
      source,
      schema,
      options,
      { remote: false, shipRows: false },
      cache,
    );
    const context = { schema, split: { seed: 42, fraction: 0.2 } };
    const task = { module: tasks, name: 'statsTask' };
    let t0 = performance.now();
    let batches = 0;
    for await (const items of windows(passes.first(), 4)) {
      const out = await executor.map<unknown, { batchId: number; cached?: never }>(
        task,
        items.map((i) =>
          batchCall({ context, ...i.input, ...(i.cache ? { cache: i.cache } : {}) }),
        ),
      );
      for (let k = 0; k < out.length; k++)
        await passes.stored(out[k]!.batchId, out[k]!.cached, items[k]!.estimate);
      batches += out.length;
    }
    await passes.firstDone(batches);
    const text = performance.now() - t0;
    const cached: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      t0 = performance.now();
      for await (const items of windows(passes.again(), 4))
        await executor.map(
          task,
          items.map((i) => batchCall({ context, ...i })),
        );
      cached.push(performance.now() - t0);
    }
    log(
      '\n### What the batch cache buys a pass (2 threads; the statistics stage, cheap, so the pass is mostly reading)',
    );
    log(
      `first pass over the text (scan + parse + cache): ${fmt(text / 1000)} s; a pass over the cache (${fmt(cache.memoryUsed / 1e6, 0)} MB in memory): ${fmt(median(cached) / 1000)} s — **${fmt(text / median(cached), 1)}x** faster`,
    );
  } finally {
    await cache.close();
    await executor.close();
  }
}

/** The whole run against pandas + scikit-learn, same hidden layer, epochs and held-out rows. */
async function againstSklearn(
  file: string,
  runs: Record<string, ProcessRun[]>,
  epochs: number,
  repeats: number,
  versions: string[],
  log: (l?: string) => void,
): Promise<void> {
  const script = join(packageRoot(), 'bench', 'sklearn_csv.py');
  const results: { total: number; value: number }[] = [];
  for (let rep = 0; rep < repeats; rep++) {
    const out = spawnSync(
      python,
      [
        script,
        JSON.stringify({
          file,
          label: 'churned',
          seed: 42,
          holdout: 0.2,
          model: 'mlp',
          hidden: [64],
          epochs,
        }),
      ],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    if (out.status !== 0) throw new Error(`scikit-learn run failed: ${out.stderr}`);
    const r = JSON.parse(out.stdout) as {
      total: number;
      value: number;
      read: number;
      preprocess: number;
      fit: number;
    };
    results.push({ total: r.total * 1000, value: r.value });
  }
  const sk = median(results.map((r) => r.total));
  const skAccuracy = results[0]!.value;
  const acc = (name: string) => {
    const m = runs[name]![0]!.metrics;
    return m.task === 'classification' ? m.accuracy : NaN;
  };
  const med = (name: string) => median(runs[name]!.map((r) => r.total));
  log(
    `\n### Against pandas read_csv + scikit-learn ${versions[0]} MLPClassifier (hidden 64, ${epochs} epochs, each tool's default minibatch and learning rate; same held-out rows)`,
  );
  log("| trainer | whole run (s, median) | held-out accuracy | time / scikit-learn's |");
  log('| --- | --- | --- | --- |');
  log(
    `| pandas ${versions[1]} + scikit-learn | ${fmt(sk / 1000)} | ${fmt(skAccuracy, 4)} | 1.00 |`,
  );
  for (const name of ['threads (2)', 'threads (1)', 'inline'])
    log(
      `| mlscale ${name} | ${fmt(med(name) / 1000)} | ${fmt(acc(name), 4)} | **${fmt(med(name) / sk)}** |`,
    );
}

/** A run's peak RSS and where its batch cache was. */
interface Rss {
  readonly rss: number;
  readonly cache: { memoryBytes: number; totalBytes: number };
}

/** Peak RSS of `mlscale train` as a process, from its --json summary. */
async function trainRss(args: string[]): Promise<Rss> {
  const s = await trainJson(args);
  return { rss: s.memory.maxRssBytes, cache: s.cache };
}

async function memory(dir: string, quick: boolean, log: (l?: string) => void): Promise<void> {
  const small = quick ? 200_000 : 1_000_000;
  const paths = { small: join(dir, 'rss-1x.csv'), large: join(dir, 'rss-4x.csv') };
  await writeTable({ rows: small, out: paths.small, seed: 3 });
  await writeTable({ rows: 4 * small, out: paths.large, seed: 3 });
  const common = [
    '--label',
    'churned',
    '--epochs',
    '1',
    '--model',
    'mlp',
    '--executor',
    'threads',
    '--workers',
    '2',
    '--out',
    join(dir, 'rss-model'),
  ];
  // Peak RSS moves with when the collector happens to run: the median of 3 runs of each, in turn.
  const runs: { small: Rss[]; large: Rss[] } = { small: [], large: [] };
  for (let i = 0; i < 3; i++) {
    runs.small.push(await trainRss(['--data', paths.small, '--cache', 'disk', ...common]));
    runs.large.push(await trainRss(['--data', paths.large, '--cache', 'disk', ...common]));
  }
  const mid = (r: Rss[]) => r.slice().sort((x, y) => x.rss - y.rss)[1]!;
  const a = mid(runs.small);
  const b = mid(runs.large);
  const budget = 64 * 1024 * 1024;
  const c = await trainRss(['--data', paths.large, '--cache-memory', String(budget), ...common]);
  log('\n### Memory (peak RSS of `mlscale train`, 2 threads, 1 epoch)');
  log(
    `disk cache: ${small.toLocaleString('en-US')} rows ${fmt(a.rss / 2 ** 20, 0)} MiB, ${(4 * small).toLocaleString('en-US')} rows ${fmt(b.rss / 2 ** 20, 0)} MiB (medians of 3; runs ${runs.small.map((r) => fmt(r.rss / 2 ** 20, 0)).join(', ')} and ${runs.large.map((r) => fmt(r.rss / 2 ** 20, 0)).join(', ')}): **${fmt((100 * (b.rss - a.rss)) / a.rss, 1)}%** more for 4x the rows (cache on disk: ${fmt(b.cache.totalBytes / 2 ** 20, 0)} MiB)`,
  );
  log(
    `memory cache with --cache-memory 64M on ${(4 * small).toLocaleString('en-US')} rows: ${fmt(c.cache.memoryBytes / 2 ** 20, 1)} MiB in memory (budget 64 MiB), ${fmt((c.cache.totalBytes - c.cache.memoryBytes) / 2 ** 20, 0)} MiB on disk`,
  );
}

/** scikit-learn's bundled tables: default `mlscale train` against LogisticRegression / Ridge. */
async function smallTables(dir: string, log: (l?: string) => void): Promise<void> {
  const exported = spawnSync(
    python,
    [
      '-c',
      `from sklearn import datasets\nfor n in ['breast_cancer','iris','wine','digits','diabetes']:\n    getattr(datasets, 'load_' + n)(as_frame=True).frame.to_csv(${JSON.stringify(dir)} + '/' + n + '.csv', index=False)`,
    ],
    { encoding: 'utf8' },
  );
  if (exported.status !== 0)
    throw new Error(`exporting scikit-learn's datasets failed: ${exported.stderr}`);
  log(
    '\n### Small real tables: default `mlscale train` against scikit-learn (StandardScaler + LogisticRegression / Ridge), same held-out rows (20%), mean of seeds 1-3',
  );
  log(
    '| dataset | rows × features | scikit-learn | mlscale default | difference (points) | mlscale chose |',
  );
  log('| --- | --- | --- | --- | --- | --- |');
  for (const name of ['breast_cancer', 'iris', 'wine', 'digits', 'diabetes']) {
    const file = join(dir, `${name}.csv`);
    const regression = name === 'diabetes';
    const sk: number[] = [];
    const ours: number[] = [];
    const chose: string[] = [];
    let shape = '';
    for (const seed of [1, 2, 3]) {
      const out = spawnSync(
        python,
        [
          join(packageRoot(), 'bench', 'sklearn_csv.py'),
          JSON.stringify({
            file,
            label: 'target',
            seed,
            holdout: 0.2,
            model: 'linear',
            ...(regression ? { task: 'regression' } : {}),
          }),
        ],
        { encoding: 'utf8' },
      );
      if (out.status !== 0) throw new Error(`scikit-learn on ${name} failed: ${out.stderr}`);
      sk.push((JSON.parse(out.stdout) as { value: number }).value);
      const run = await timeRun({ data: file, label: 'target', seed, executor: 'inline' });
      const m = run.result.metrics;
      ours.push(m.task === 'classification' ? m.accuracy : m.r2);
      const t = run.result.training;
      chose.push(`${t.modelChoice?.chosen ?? run.result.spec.family} ${t.epochs} ep`);
      shape = `${run.result.data.rows} × ${run.result.schema.columns.length}`;
    }
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    log(
      `| ${name} (${regression ? 'R²' : 'accuracy'}) | ${shape} | ${fmt(mean(sk), 4)} | ${fmt(mean(ours), 4)} | **${fmt(100 * (mean(ours) - mean(sk)), 2)}** | ${chose.join('; ')} |`,
    );
  }
}
