/**
 * What a pipeline sweep says: time against data size with its linear fit (the O(n) claim),
 * throughput against workers with its fits and verdict, the cost of a batch against its size (the
 * batch size lever), and how many machines finish N rows within a target time.
 *
 * @module
 */
import { statisticWords, type PipelinePoint, type PipelineSweep } from './sweep-schema.js';
import { linearFit, linearityCheck, type LinearityCheck, type LinearFit } from './fit.js';
import { duration, num, pct } from './format.js';
import { judgeScaling, type ScalingSeries, type ScalingVerdict } from './scaling.js';

/** Overhead share of a batch from which a larger batch is the lever. */
export const kBatchOverheadShare = 0.2;

/** Time against the number of batches for one (workers, batch size). */
export interface TimeSeries {
  readonly workers: number;
  readonly batchSize: number;
  readonly batches: readonly number[];
  readonly seconds: readonly number[];
  readonly fit: LinearityCheck;
}

/** Wall time per batch against batch size, at one worker count: t = overhead + perRow·size. */
export interface BatchCost {
  readonly workers: number;
  readonly batchSizes: readonly number[];
  /** Seconds per batch, start-up taken out where a time fit gives it. */
  readonly secondsPerBatch: readonly number[];
  /** Rows per second at each point. */
  readonly rowsPerSecond: readonly number[];
  readonly fit: LinearFit;
}

/** The analysis of one pipeline sweep. */
export interface PipelineAnalysis {
  readonly kind: 'pipeline';
  readonly source: string;
  readonly sweep: PipelineSweep;
  readonly time: readonly TimeSeries[];
  readonly scaling?: {
    readonly series: ScalingSeries;
    readonly verdict: ScalingVerdict;
    readonly batchSize: number;
    readonly batches: number;
  };
  readonly batch?: BatchCost;
  readonly batchLever: boolean;
  /** The point with the most rows per second among the largest runs. */
  readonly best: PipelinePoint;
  /** The time model of the best (workers, batch size): seconds = a + b·batches. */
  readonly model?: TimeSeries;
  readonly capacity?: {
    readonly targetRows: number;
    readonly targetSeconds: number;
    readonly machines: number | null;
    readonly oneMachineSeconds: number;
  };
  readonly statements: readonly string[];
}

function group<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) m.set(key(it), [...(m.get(key(it)) ?? []), it]);
  return m;
}

/** Analyses one pipeline sweep; the target is rows within seconds. */
export function analysePipeline(
  sweep: PipelineSweep,
  target?: { rows: number; seconds: number },
): PipelineAnalysis {
  const cores = sweep.machine.cpus;
  const statements: string[] = [];
  const source = `pipeline sweep, ${sweep.executor} executor, data ${sweep.data} (${cores} CPUs, ${sweep.points.length} runs, ${statisticWords(sweep.statistic, sweep.repeats)})`;
  const rate = (p: PipelinePoint) => p.rows / p.seconds;

  const time: TimeSeries[] = [];
  for (const g of group(sweep.points, (p) => `${p.workers}/${p.batchSize}`).values()) {
    const pts = [...g].sort((p, q) => p.batches - q.batches);
    if (new Set(pts.map((p) => p.batches)).size < 2) continue;
    const batches = pts.map((p) => p.batches);
    const seconds = pts.map((p) => p.seconds);
    const fit = linearityCheck(batches, seconds);
    time.push({ workers: pts[0]!.workers, batchSize: pts[0]!.batchSize, batches, seconds, fit });
    const line = `${duration(fit.a)} + ${duration(fit.b)} per batch`;
    const data = batches.map((b, i) => `${b} batches ${duration(seconds[i]!)}`).join(', ');
    statements.push(
      fit.linear
        ? `Time is linear in data size with ${pts[0]!.workers} worker${pts[0]!.workers === 1 ? '' : 's'}, batch ${pts[0]!.batchSize} rows (${data}): t = ${line}, R² = ${fit.r2.toFixed(4)}, no point more than ${pct(fit.maxRelativeResidual)} off the line — O(n) holds.`
        : `Time departs from a line with ${pts[0]!.workers} worker${pts[0]!.workers === 1 ? '' : 's'}, batch ${pts[0]!.batchSize} rows (${data}): the best line t = ${line} has R² = ${fit.r2.toFixed(4)} and misses ${num(fit.worstX)} batches by ${pct(fit.maxRelativeResidual)} — the O(n) claim does not hold there.`,
    );
  }
  time.sort((p, q) => p.workers - q.workers || p.batchSize - q.batchSize);
  if (time.length === 0)
    statements.push(
      'No (workers, batch size) was measured at two data sizes, so the sweep says nothing of time against data size: sweep --batches 10,100,1000.',
    );

  // Throughput against workers: the batch size measured with the most worker counts, at the largest
  // number of batches that every one of those worker counts ran.
  let scaling: PipelineAnalysis['scaling'];
  let bestCandidates: { bs: number; n: number; pts: PipelinePoint[] } | undefined;
  for (const [bsKey, g] of group(sweep.points, (p) => String(p.batchSize))) {
    const byWorkers = group(g, (p) => String(p.workers));
    if (byWorkers.size < 2) continue;
    const common = [...byWorkers.values()]
      .map((ps) => new Set(ps.map((p) => p.batches)))
      .reduce((s, t) => new Set([...s].filter((v) => t.has(v))));
    if (common.size === 0) continue;
    const n = Math.max(...common);
    const pts = g.filter((p) => p.batches === n).sort((p, q) => p.workers - q.workers);
    if (!bestCandidates || pts.length > bestCandidates.pts.length)
      bestCandidates = { bs: Number(bsKey), n, pts };
  }
  if (bestCandidates) {
    const { pts } = bestCandidates;
    const series: ScalingSeries = {
      dimension: 'workers',
      unit: 'rows/s',
      fixed: `${sweep.executor} executor, ${bestCandidates.n} batches of ${bestCandidates.bs} rows`,
      n: pts.map((p) => p.workers),
      x: pts.map(rate),
      cpu: pts.map(() => null),
      spread:
        sweep.executor === 'bullmq'
          ? 'as more mlscale worker processes on the same Redis'
          : 'with the bullmq executor (mlscale worker on each machine, one Redis)',
    };
    scaling = {
      series,
      verdict: judgeScaling(series, cores),
      batchSize: bestCandidates.bs,
      batches: bestCandidates.n,
    };
    statements.push(...scaling.verdict.statements);
  } else {
    statements.push(
      'No batch size was measured with two worker counts on the same data, so the sweep says nothing of scaling with workers: sweep --workers 1,2,….',
    );
  }

  // Batch cost against batch size, at the worker count with the most batch sizes.
  let batch: BatchCost | undefined;
  let batchLever = false;
  const byW = [...group(sweep.points, (p) => String(p.workers)).values()].filter(
    (g) => new Set(g.map((p) => p.batchSize)).size >= 2,
  );
  byW.sort(
    (g, h) => new Set(h.map((p) => p.batchSize)).size - new Set(g.map((p) => p.batchSize)).size,
  );
  const bg = byW[0];
  if (bg) {
    const w = bg[0]!.workers;
    const startup = (bs: number) =>
      time.find((t) => t.workers === w && t.batchSize === bs)?.fit.a ??
      time.find((t) => t.workers === w)?.fit.a ??
      0;
    const pts = [...bg].sort((p, q) => p.batchSize - q.batchSize || p.batches - q.batches);
    const perBatch = pts.map((p) =>
      Math.max(1e-9, (p.seconds - Math.max(0, startup(p.batchSize))) / p.batches),
    );
    const fit = linearFit(
      pts.map((p) => p.batchSize),
      perBatch,
    );
    batch = {
      workers: w,
      batchSizes: pts.map((p) => p.batchSize),
      secondsPerBatch: perBatch,
      rowsPerSecond: pts.map(rate),
      fit,
    };
    const sizes = [...new Set(pts.map((p) => p.batchSize))];
    const share = (bs: number) => (fit.a > 0 ? fit.a / (fit.a + fit.b * bs) : 0);
    // The batch size in use: the scaling series', else the one measured at the most data sizes.
    const main =
      scaling?.batchSize ??
      [...time].sort((p, q) => q.batches.length - p.batches.length)[0]?.batchSize ??
      sizes[sizes.length - 1]!;
    statements.push(
      `Each batch costs ${duration(Math.max(0, fit.a))} of fixed overhead plus ${num(fit.b * 1e6)} µs per row (${w} worker${w === 1 ? '' : 's'}, fit over batch sizes ${sizes.join(', ')}, R² = ${fit.r2.toFixed(3)}): the overhead is ${sizes.map((s) => `${pct(share(s))} of a ${s}-row batch`).join(', ')}.`,
    );
    batchLever = share(main) >= kBatchOverheadShare;
    // Overhead share a/(a + b·size) ≤ 10% from size = 9a/b; the tolerance keeps 8999.9999 from becoming 9001.
    const enough =
      fit.a > 0 && fit.b > 0
        ? Math.ceil(((fit.a * (1 / 0.1 - 1)) / fit.b) * (1 - 1e-6))
        : undefined;
    statements.push(
      batchLever
        ? `A larger batch is a lever: at ${main} rows per batch ${pct(share(main))} of the time is per-batch overhead; ${enough ? `batches of ${num(enough)} rows or more bring it under 10%` : 'larger batches share it out'} (--batch-size).`
        : `Batch size is not the lever at ${main} rows: per-batch overhead is ${pct(share(main))} of a batch${enough ? `; keep batches at ${num(enough)} rows or more to hold it under 10%` : ''}.`,
    );
  }

  const largest = sweep.points.filter(
    (p) => p.rows >= 0.5 * Math.max(...sweep.points.map((q) => q.rows)),
  );
  const best = largest.reduce((p, q) => (rate(q) > rate(p) ? q : p));
  const model = time.find((t) => t.workers === best.workers && t.batchSize === best.batchSize);
  statements.push(
    `Fastest configuration on the largest runs: ${best.workers} worker${best.workers === 1 ? '' : 's'}, batch ${best.batchSize} rows — ${num(rate(best))} rows/s (${num(best.rows)} rows in ${duration(best.seconds)}).`,
  );

  let capacity: PipelineAnalysis['capacity'];
  if (target) {
    const batchesNeeded = Math.ceil(target.rows / best.batchSize);
    const a = model ? Math.max(0, model.fit.a) : 0;
    const b = model ? model.fit.b : best.seconds / best.batches;
    const one = a + b * batchesNeeded;
    const machines =
      target.seconds > a
        ? Math.max(1, Math.ceil((b * batchesNeeded) / (target.seconds - a)))
        : null;
    capacity = {
      targetRows: target.rows,
      targetSeconds: target.seconds,
      machines,
      oneMachineSeconds: one,
    };
    const rough =
      model && !model.fit.linear
        ? `; the time fit is poor (R² ${model.fit.r2.toFixed(3)}), so treat this plan as rough`
        : '';
    const basis =
      (model
        ? `t = ${duration(a)} + ${duration(b)} × ${num(batchesNeeded)} batches`
        : `${num(rate(best))} rows/s`) + rough;
    statements.push(
      machines === null
        ? `Capacity: ${num(target.rows)} rows cannot finish within ${duration(target.seconds)}: the fixed start-up alone takes ${duration(a)} (${basis}).`
        : `Capacity: ${num(target.rows)} rows take ${duration(one)} on one machine (${basis}); within ${duration(target.seconds)} they need ${machines} machine${machines === 1 ? '' : 's'} of ${cores} CPUs, each running ${best.workers} worker${best.workers === 1 ? '' : 's'} (the batches split evenly, the ${duration(a)} start-up paid once; the bullmq executor spreads batches across machines).`,
    );
  }
  return {
    kind: 'pipeline',
    source,
    sweep,
    time,
    ...(scaling ? { scaling } : {}),
    ...(batch ? { batch } : {}),
    batchLever,
    best,
    ...(model ? { model } : {}),
    ...(capacity ? { capacity } : {}),
    statements,
  };
}
