/**
 * `npm run bench:optimize`: what `mlscale optimize` buys on this machine.
 *
 * Models: mlscale's own MLP on the digits sample (default settings: 64-64-10), mlscale's own MLP
 * on a generated table (synthetic, 200,000 rows × 64 features, 10 classes, 64-512-512-10), and
 * the wide MLP 256-2048-2048-2048-10 (mlscale's export graph, random weights). For each:
 * - raw onnxruntime rows/s, INT8 over FP32, at batch 64 and batch 1 (targets ≥ 2x, ≥ 3x), one
 *   intra-op thread, interleaved repeats, medians of the per-repeat ratios (`mlscale optimize`'s
 *   own measurement);
 * - `mlscale serve` rows/s of the INT8 variant over the FP32 model under the same closed-loop
 *   load (wrk, 64 connections, one row per request, dynamic batching), alternated (target ≥ 1.8x);
 * - accuracy drop on the held-out rows (target ≤ 0.5 point; agreement for the random wide MLP);
 * - file size (target ≤ 0.3x).
 * Then: the INT8 formulations side by side on the wide MLP (standard ops, onnxruntime's contrib
 * op, 7- and 8-bit weights) and FP16 both ways (weights only, whole graph), at 1 and 2 threads;
 * one Gemm layer of K × N weights, INT8 against FP32 (where quantising starts to pay); and
 * `mlscale optimize`'s wall time on a ~50 MB model.
 *
 * Run under `flock /tmp/mlscale-bench.lock` (the machine is shared). `--quick` runs short;
 * `--only targets,formulations,kernel,layers,walltime` runs some sections (kernel: bare
 * MatMulInteger against bare MatMul, the integer kernel's ceiling on this CPU).
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { measureSpeeds, type TimedModel } from '../src/model/optimize/measure-speed.js';
import {
  createMeasureSession,
  describeInputs,
  syntheticFeeds,
} from '../src/model/optimize/model-inputs.js';
import { optimizeModel, type OptimizeReport } from '../src/model/optimize/optimize.js';
import { quantizeInt8 } from '../src/model/optimize/quantize-int8.js';
import { convertFp16 } from '../src/model/optimize/convert-fp16.js';
import { isPreprocessingName } from '../src/model/optimize/onnx-model.js';
import { u8s8Saturates } from '../src/model/optimize/saturation-probe.js';
import { trainModel } from '../src/pipeline/train-model.js';
import {
  gemmLayerBytes,
  kernelCeiling,
  maxDiff,
  serveComparison,
  timed,
  wholeGraphFp16,
} from './optimize-kit.js';
import { fmt, mlpBytes, root } from './serve-kit.js';

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean' }, repeats: { type: 'string' }, only: { type: 'string' } },
});
const quick = args.quick === true;
const kSections = ['targets', 'formulations', 'kernel', 'layers', 'walltime'] as const;
const only = new Set(typeof args.only === 'string' ? args.only.split(',') : kSections);
for (const name of only)
  if (!(kSections as readonly string[]).includes(name))
    throw new Error(`--only takes ${kSections.join(', ')}; got ${name}`);
const repeats = Number(args.repeats ?? (quick ? 3 : 7));
const serveSeconds = quick ? 4 : 8;
const serveRepeats = quick ? 1 : 3;
const log = (line = '') => process.stdout.write(line + '\n');
const x = (v: number) => `${v.toFixed(2)}x`;

interface Row {
  name: string;
  report: OptimizeReport;
  serve?: { ratio: number; fp32: number; int8: number };
  /** Raw onnxruntime rows/s at batch 64 with every core, as one server instance runs (1 × cores threads). */
  raw?: { fp32: number; int8: number };
}

function int8Of(r: OptimizeReport) {
  return r.variants.find((v) => v.variant === 'int8')!;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mlscale-bench-optimize-'));
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
    cwd: root,
    encoding: 'utf8',
  }).stdout.trim();
  log(
    `# bench:optimize — ${new Date().toISOString()}, commit ${commit}, ${cpus()[0]?.model.trim()} × ${availableParallelism()}, onnxruntime ${ort.env.versions.node}, u8s8 saturates: ${await u8s8Saturates()}`,
  );
  try {
    if (only.has('targets')) await targets(dir);
    if (only.has('formulations')) await formulations();
    if (only.has('kernel')) await kernel();
    if (only.has('layers')) await layers();
    if (only.has('walltime')) await wallTime(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The targets: three models, mlscale optimize on each, then mlscale serve of INT8 against FP32. */
async function targets(dir: string): Promise<void> {
  // 1. The models.
  log('training the digits MLP (mlscale train defaults) ...');
  const digits = join(dir, 'digits');
  await trainModel({ data: 'sample:digits', out: digits });
  const tableData = 'synthetic:rows=200000,features=64,classes=10,informative=32,seed=5';
  log(`training the table MLP 64-512-512-10 on ${tableData} ...`);
  const table = join(dir, 'table');
  await trainModel({ data: tableData, out: table, hidden: [512, 512], epochs: quick ? 1 : 3 });
  const wide = join(dir, 'wide');
  await mkdir(wide);
  await writeFile(join(wide, 'model.onnx'), mlpBytes(256, [2048, 2048, 2048], 10));

  // 2. mlscale optimize on each: raw rows/s, size, accuracy (forced, so the variants exist to serve).
  const common = {
    variants: ['int8', 'fp16', 'graph'] as const,
    force: true,
    repeats,
    measureMs: quick ? 150 : 300,
  };
  const rows: Row[] = [];
  for (const [name, model, data, minWeights] of [
    // Every layer of the digits MLP is under the break-even size: quantised anyway, to measure it.
    ['digits 64-64-10 (sample:digits)', digits, 'sample:digits', 0],
    ['table 64-512-512-10 (200k × 64 synthetic)', table, tableData, undefined],
    ['wide 256-2048-2048-2048-10 (random weights)', wide, undefined, undefined],
  ] as const) {
    log(`mlscale optimize ${name} ...`);
    const report = await optimizeModel({
      model,
      ...common,
      variants: [...common.variants],
      data,
      int8MinWeights: minWeights,
    });
    rows.push({ name, report });
  }

  // 3. mlscale serve: INT8 variant against FP32, same load.
  for (const [i, row] of rows.entries()) {
    const repo = join(dir, `repo-${i}`);
    const folder = [digits, table, wide][i]!;
    await mkdir(join(repo, 'fp32', '1'), { recursive: true });
    await mkdir(join(repo, 'int8', '1'), { recursive: true });
    await cp(join(folder, 'model.onnx'), join(repo, 'fp32', '1', 'model.onnx'));
    await cp(join(folder, 'model.int8.onnx'), join(repo, 'int8', '1', 'model.onnx'));
    const width = [64, 64, 256][i]!;
    log(
      `mlscale serve ${row.name}: fp32 against int8, ${serveRepeats} × ${serveSeconds} s each ...`,
    );
    const s = await serveComparison(repo, ['fp32', 'int8'], width, serveRepeats, serveSeconds);
    const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
    row.serve = { ratio: s.ratio, fp32: med(s.rates[0]), int8: med(s.rates[1]) };
    // The compute the server's one instance does, alone: the same sessions with all the cores.
    const sessions: TimedModel[] = [];
    for (const v of ['fp32', 'int8'])
      sessions.push({
        name: v,
        session: await createMeasureSession(
          await readFile(join(repo, v, '1', 'model.onnx')),
          v,
          availableParallelism(),
        ),
      });
    const inputs = describeInputs(sessions[0]!.session);
    const t = await measureSpeeds(sessions, (b) => syntheticFeeds(inputs, b, 3), {
      batchSizes: [64],
      repeats,
      blockMs: quick ? 150 : 300,
    });
    row.raw = { fp32: t.get('fp32')![0]!.rowsPerS, int8: t.get('int8')![0]!.rowsPerS };
    for (const m of sessions) await m.session.release();
  }
  // The ceiling of the serving ratio: a server cannot gain more from a cheaper model than the
  // model's own compute gains with the server's thread layout (one instance with every core).
  // What keeps it below: the per-request work INT8 does not touch (HTTP, JSON, batching, and the
  // load generator on the same cores).
  const ceiling = (r: Row) => r.raw!.int8 / r.raw!.fp32;

  log('\n## Targets\n');
  log(
    '| model | INT8/FP32 raw @64 (≥ 2x) | @1 (≥ 3x) | serve (≥ 1.8x) | serve ceiling: raw @64, server layout | accuracy drop (≤ 0.5 pt) | size (≤ 0.3x) | layers in INT8 |',
  );
  log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const v = int8Of(r.report);
    const at = (b: number) => v.speed!.find((p) => p.batch === b)!;
    const q = v.quality!;
    const acc =
      q.kind === 'data'
        ? `${q.drop.toFixed(2)} pt (${q.original.toFixed(4)} → ${q.value.toFixed(4)}, ${fmt(q.rows)} held-out rows)`
        : `top-1 ${((q.top1 ?? 1) * 100).toFixed(2)}% (no labels), max abs diff ${q.maxAbsDiff.toPrecision(2)}`;
    const s = r.serve!;
    log(
      `| ${r.name} | ${x(at(64).ratio)} (${fmt(at(64).rowsPerS)} rows/s) | ${x(at(1).ratio)} (${fmt(at(1).rowsPerS)}) | ${x(s.ratio)} (${fmt(s.int8)} against ${fmt(s.fp32)} req/s) | ${x(ceiling(r))} (${fmt(r.raw!.int8)} against ${fmt(r.raw!.fp32)} rows/s, 1 × ${availableParallelism()} threads) | ${acc} | ${x(v.sizeRatio!)} | ${v.summary} |`,
    );
  }
  log(
    '\n## Every variant (raw onnxruntime, 1 thread, rows/s and ratio to FP32; load = session creation)\n',
  );
  log('| model | variant | size | @1 | @64 | load | quality |');
  log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const o = r.report.model;
    log(
      `| ${r.name} | fp32 | ${fmt(o.sizeBytes / 1024)} KB | ${fmt(o.speed[0]!.rowsPerS)} | ${fmt(o.speed[1]!.rowsPerS)} | ${o.loadMs.toFixed(0)} ms | ${o.score ? `acc ${o.score.value.toFixed(4)}` : ''} |`,
    );
    for (const v of r.report.variants) {
      const q = v.quality;
      const qt = !q
        ? ''
        : q.kind === 'data'
          ? `acc ${q.value.toFixed(4)} (${q.drop >= 0 ? '−' : '+'}${Math.abs(q.drop).toFixed(2)} pt)`
          : `top-1 ${((q.top1 ?? 1) * 100).toFixed(2)}%`;
      log(
        `| | ${v.variant} | ${x(v.sizeRatio!)} | ${x(v.speed![0]!.ratio)} | ${x(v.speed![1]!.ratio)} | ${v.loadMs!.toFixed(0)} ms | ${qt} |`,
      );
    }
  }
}

/** The INT8 formulations and the two FP16 forms side by side on the wide MLP, at 1 thread and every core. */
async function formulations(): Promise<void> {
  const wideBytes = mlpBytes(256, [2048, 2048, 2048], 10);
  const q = (ops: 'standard' | 'ort', reduceRange: boolean) =>
    quantizeInt8(wideBytes, 'wide', {
      ops,
      reduceRange,
      minWeights: 65_536,
      keepFp32: isPreprocessingName,
    }).model;
  const forms: [string, Uint8Array][] = [
    ['fp32', wideBytes],
    ['int8 standard ops, 7-bit weights', q('standard', true)],
    ['int8 standard ops, 8-bit weights', q('standard', false)],
    ['int8 com.microsoft.DynamicQuantizeMatMul, 7-bit', q('ort', true)],
    [
      'fp16 weights, Cast to FP32 at load',
      convertFp16(wideBytes, 'wide', isPreprocessingName).model,
    ],
    ['fp16 whole graph, Casts at the edges', wholeGraphFp16(wideBytes)],
  ];
  log(
    '\n## Formulations, wide MLP (rows/s; ratio to FP32 in the same repeats; max |Δ| of the probabilities on 64 rows)\n',
  );
  log('| formulation | threads | @1 | @64 | max abs diff |');
  log('| --- | --- | --- | --- | --- |');
  for (const threads of [1, availableParallelism()]) {
    const models: TimedModel[] = [];
    for (const [name, bytes] of forms)
      models.push({ name, session: await createMeasureSession(bytes, name, threads) });
    const inputs = describeInputs(models[0]!.session);
    const table = await measureSpeeds(models, (b) => syntheticFeeds(inputs, b, 3), {
      batchSizes: [1, 64],
      repeats,
      blockMs: quick ? 150 : 300,
    });
    const feeds = syntheticFeeds(inputs, 64, 4);
    for (const m of models) {
      const [p1, p64] = table.get(m.name)!;
      const diff =
        m.name === 'fp32'
          ? 0
          : await maxDiff(models[0]!.session, m.session, feeds, 'probabilities');
      log(
        `| ${m.name} | ${threads} | ${fmt(p1!.rowsPerS)} (${x(p1!.ratio)}) | ${fmt(p64!.rowsPerS)} (${x(p64!.ratio)}) | ${diff.toPrecision(2)} |`,
      );
    }
    for (const m of models) await m.session.release();
  }
}

/** The integer kernel's ceiling: bare MatMulInteger against bare MatMul, 2048 × 2048, one thread. */
async function kernel(): Promise<void> {
  const t = await kernelCeiling(2048, 2048, [1, 64], repeats, quick ? 150 : 300);
  log(
    '\n## Kernel ceiling: bare MatMulInteger (u8 × s8, input already quantised) against bare MatMul (fp32), 2048 × 2048, 1 thread\n',
  );
  log('| kernel | @1 | @64 |');
  log('| --- | --- | --- |');
  for (const [name, points] of t)
    log(
      `| ${name} | ${fmt(points[0]!.rowsPerS)} (${x(points[0]!.ratio)}) | ${fmt(points[1]!.rowsPerS)} (${x(points[1]!.ratio)}) |`,
    );
}

/**
 * Where INT8 starts to pay: one Gemm layer of K × N weights, FP32 against INT8 (7-bit, standard
 * ops), at batch 1 and 64, one thread — the measurement behind --int8-min-weights.
 */
async function layers(): Promise<void> {
  log(
    '\n## One layer of K × N weights: INT8 over FP32 (raw onnxruntime, 1 thread, median of per-repeat ratios)\n',
  );
  log('| K × N | weights | @1 | @64 |');
  log('| --- | --- | --- | --- |');
  for (const [k, n] of [
    [64, 64],
    [128, 128],
    [64, 512],
    [512, 64],
    [256, 128],
    [128, 256],
    [256, 256],
    [512, 512],
    [1024, 1024],
  ] as const) {
    const fp32 = gemmLayerBytes(k, n);
    const int8 = quantizeInt8(fp32, 'layer', {
      ops: 'standard',
      reduceRange: true,
      minWeights: 0,
      keepFp32: () => false,
    }).model;
    const models: TimedModel[] = [
      { name: 'fp32', session: await createMeasureSession(fp32, 'fp32', 1) },
      { name: 'int8', session: await createMeasureSession(int8, 'int8', 1) },
    ];
    const inputs = describeInputs(models[0]!.session);
    const t = await measureSpeeds(models, (b) => syntheticFeeds(inputs, b, 5), {
      batchSizes: [1, 64],
      repeats,
      blockMs: quick ? 50 : 100,
    });
    const [p1, p64] = t.get('int8')!;
    log(`| ${k} × ${n} | ${fmt(k * n)} | ${x(p1!.ratio)} | ${x(p64!.ratio)} |`);
    for (const m of models) await m.session.release();
  }
}

/** mlscale optimize's own wall time on a ~50 MB model (all variants, default measurement). */
async function wallTime(dir: string): Promise<void> {
  const big = join(dir, 'big.onnx');
  await writeFile(big, mlpBytes(256, [2048, 2048, 2048, 2048], 10));
  const size = (await stat(big)).size;
  const run = await timed(async () =>
    spawnSync(
      process.execPath,
      [join(root, 'bin', 'mlscale.js'), 'optimize', big, '--force', '--json'],
      { encoding: 'utf8' },
    ),
  );
  if (run.value.status !== 0) throw new Error(`mlscale optimize failed: ${run.value.stderr}`);
  log(
    `\n## mlscale optimize wall time\n\n${fmt(size / 2 ** 20, 1)} MB model (256-2048×4-10), all three variants, default measurement: ${run.seconds.toFixed(1)} s`,
  );
}

await main();
