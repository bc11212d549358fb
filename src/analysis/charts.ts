/**
 * The report's charts: Vega-Lite specifications built from the advisor's analyses, rendered to SVG
 * in Node by Vega (no browser, no canvas), each with a paragraph that reads it.
 *
 * @module
 */
import type { PipelineAnalysis } from './analyse-pipeline.js';
import type { ServeAnalysis } from './analyse-serve.js';
import { median, uslThroughput } from './fit.js';
import { statisticWords } from './sweep-schema.js';
import { duration, num, pct, ratio } from './format.js';
import type { ScalingSeries, ScalingVerdict } from './scaling.js';
import { cap, curve, enc, renderSvg, type Chart, type Row } from './chart-kit.js';
import { kneeByConfigChart, kneeChart, variantChart } from './serve-charts.js';

export { renderSvg, type Chart } from './chart-kit.js';
export { kneeByConfigChart, kneeChart, variantChart } from './serve-charts.js';

/** Time against data size, one colour per (workers, batch size), measured points and their lines. */
export async function timeChart(a: PipelineAnalysis, id: string): Promise<Chart | undefined> {
  if (a.time.length === 0) return undefined;
  const points: Row[] = [];
  const lines: Row[] = [];
  for (const t of a.time) {
    const name = `${t.workers} worker${t.workers === 1 ? '' : 's'}, batch ${t.batchSize} rows`;
    t.batches.forEach((n, i) => points.push({ x: n, y: t.seconds[i]!, series: name }));
    const lo = Math.min(...t.batches);
    const hi = Math.max(...t.batches);
    lines.push(...curve(lo, hi, (n) => t.fit.a + t.fit.b * n, name, true));
  }
  const svg = await renderSvg({
    title: {
      text: 'Run time against data size',
      subtitle: 'dots: measured runs; lines: least-squares fit t = a + b·n (log–log axes)',
    },
    layer: [
      {
        data: { values: lines },
        mark: { type: 'line', strokeWidth: 2 },
        encoding: enc(
          'x',
          'y',
          'Data size n (batches, log scale)',
          'Wall time (s, log scale)',
          true,
          true,
        ),
      },
      {
        data: { values: points },
        mark: { type: 'point', filled: true, size: 70 },
        encoding: enc(
          'x',
          'y',
          'Data size n (batches, log scale)',
          'Wall time (s, log scale)',
          true,
          true,
        ),
      },
    ],
  });
  const t = a.time.reduce((p, q) => (q.fit.r2 < p.fit.r2 ? q : p));
  const verdict = a.time.every((s) => s.fit.linear)
    ? `Every series lies on its line (lowest R² ${t.fit.r2.toFixed(4)}, no point more than ${pct(Math.max(...a.time.map((s) => s.fit.maxRelativeResidual)))} off): run time grows linearly with the data, O(n).`
    : `Not every series is linear: ${a.time
        .filter((s) => !s.fit.linear)
        .map(
          (s) =>
            `${s.workers} workers, batch ${s.batchSize} (R² ${s.fit.r2.toFixed(3)}, ${pct(s.fit.maxRelativeResidual)} off at ${num(s.fit.worstX)} batches)`,
        )
        .join('; ')}.`;
  return {
    id,
    title: 'Run time against data size',
    svg,
    reading: `Each dot is a measured pipeline run (${a.sweep.repeats > 1 ? statisticWords(a.sweep.statistic, a.sweep.repeats) : 'one run'}); each line is the fit t = a + b·n for one worker count and batch size. On log–log axes a line of slope 1 is linear time; the bend at the left is the fixed start-up a (thread pool, modules), which small runs cannot hide. ${verdict} The fits: ${a.time.map((s) => `${s.workers} worker${s.workers === 1 ? '' : 's'}, batch ${s.batchSize}: t = ${duration(s.fit.a)} + ${duration(s.fit.b)}·n (R² ${s.fit.r2.toFixed(4)})`).join('; ')}. The slope b is the time per batch, the intercept a the start-up.`,
  };
}

/** Throughput against concurrency: measured points, the USL curve, ideal linear scaling and the core count. */
export async function scalingChart(
  series: ScalingSeries,
  verdict: ScalingVerdict,
  id: string,
  what: string,
): Promise<Chart> {
  const { n, x, dimension: dim, unit } = series;
  const maxN = Math.max(...n, verdict.cores) * 2;
  const x1 = n[0] === 1 ? x[0]! : (verdict.usl?.lambda ?? x[0]! / n[0]!);
  const rows: Row[] = n.map((v, i) => ({ x: v, y: x[i]!, series: 'measured' }));
  const lines: Row[] = curve(1, maxN, (v) => x1 * v, 'ideal linear');
  const yMax = Math.max(...x) * 1.6;
  const clipped = lines.filter((r) => (r.y as number) <= yMax);
  if (verdict.usl) {
    const u = verdict.usl;
    clipped.push(
      ...curve(
        1,
        maxN,
        (v) => uslThroughput(u, v),
        `USL fit${u.underDetermined ? ' (under-determined)' : ''}`,
      ),
    );
  }
  const svg = await renderSvg({
    title: {
      text: `${what}: throughput against ${dim}`,
      subtitle: `${series.fixed}; dots measured, curves fitted`,
    },
    layer: [
      {
        data: { values: clipped },
        mark: { type: 'line', strokeWidth: 2 },
        encoding: {
          ...enc('x', 'y', `${cap(dim)} N`, `Throughput (${unit})`, false, false, true),
          strokeDash: { field: 'series', type: 'nominal', legend: null },
        },
      },
      {
        data: { values: rows },
        mark: { type: 'point', filled: true, size: 90 },
        encoding: enc('x', 'y', `${cap(dim)} N`, `Throughput (${unit})`, false, false, true),
      },
      {
        data: { values: [{ x: verdict.cores, label: `${verdict.cores} cores` }] },
        mark: { type: 'rule', color: '#888', strokeDash: [2, 3] },
        encoding: { x: { field: 'x', type: 'quantitative' } },
      },
      {
        data: { values: [{ x: verdict.cores, label: `← ${verdict.cores} cores` }] },
        mark: { type: 'text', align: 'left', dx: 4, dy: -4, color: '#666' },
        encoding: {
          x: { field: 'x', type: 'quantitative' },
          y: { value: 8 },
          text: { field: 'label' },
        },
      },
    ],
  });
  const u = verdict.usl;
  const fitText = u
    ? `USL parameters: λ = ${num(u.lambda)} ${unit}, σ = ${u.sigma.toFixed(3)}, κ = ${u.kappa.toFixed(4)}. ` +
      (u.underDetermined
        ? `The USL curve passes through the ${u.points} measured levels, but with 3 parameters and ${u.points} points it is under-determined: read the dots, not the curve beyond them.`
        : `The USL fit (R² ${u.r2.toFixed(3)}) ${Number.isFinite(u.peakN) ? `peaks at N* = ${num(u.peakN)} ${dim} (${num(u.peakX)} ${unit}) and falls beyond it` : `has no peak; it levels off towards ${num(u.peakX)} ${unit}`}.`)
    : '';
  return {
    id,
    title: `${what}: throughput against ${dim}`,
    svg,
    reading: `Dots are the measured throughput with N ${dim}; the straight line is ideal linear scaling from one (${num(x1)} ${unit} × N); the dotted rule marks the machine's ${verdict.cores} cores. ${n.map((v, i) => `${v}: ${num(x[i]!)} (${ratio(x[i]! / (x1 * v))} of ideal)`).join(', ')}. ${fitText} ${verdict.lever === 'serial' ? `Throughput does not grow with ${dim}: the work is serial, and neither more ${dim} nor more machines can help until its serial part is made faster.` : verdict.lever === 'vertical' ? `Throughput still grows at ${verdict.bestN} ${dim}: this machine has room for more.` : verdict.bestN === Math.max(...n) && verdict.bestN >= verdict.cores ? `Throughput grows up to the machine's ${verdict.cores} cores and every core is in use: more ${dim} on this machine would only share them; more machines (or a bigger one) can help.` : `Throughput stops growing at ${verdict.bestN} ${dim}: more of them on this machine cannot help, more machines can.`}`,
  };
}

/** Throughput against batch size: the serve batch series, or the pipeline's rows/s by batch size. */
export async function batchChart(
  a: ServeAnalysis | PipelineAnalysis,
  id: string,
): Promise<Chart | undefined> {
  if (a.kind === 'serve') {
    const b = a.batch;
    if (!b) return undefined;
    const rows: Row[] = b.batchSizes.map((s, i) => ({
      x: s,
      y: b.x[i]!,
      series: 'req/s at the SLO',
    }));
    const svg = await renderSvg({
      title: { text: 'Throughput against the largest batch', subtitle: b.fixed },
      layer: [
        {
          data: { values: rows },
          mark: { type: 'line', point: { filled: true, size: 80 }, strokeWidth: 2 },
          encoding: {
            ...enc(
              'x',
              'y',
              'Largest batch (--max-batch-size, rows, log scale)',
              'Throughput at the SLO (requests/s)',
              true,
            ),
            color: { value: '#4c78a8' },
          },
        },
      ],
    });
    const k = b.x.length - 1;
    return {
      id,
      title: 'Throughput against the largest batch',
      svg,
      reading: `Each dot is the highest rate that met the SLO with that --max-batch-size. ${b.batchSizes.map((s, i) => `≤ ${s}: ${num(b.x[i]!)} req/s${b.meanBatch[i] !== null ? ` (batches held ${num(b.meanBatch[i]!)} row${b.meanBatch[i] === 1 ? '' : 's'} on average)` : ''}`).join('; ')}. Batching shares each batch's fixed cost among its rows, so the curve rises while that cost dominates and flattens once it no longer does; the last step gave ${ratio(b.x[k]! / b.x[k - 1]!)}${a.batchLever ? ', so larger batches are still worth trying' : ', so batching is used up'}.`,
    };
  }
  const b = a.batch;
  if (!b) return undefined;
  // One dot per batch size: the median over its runs of rows/s with the start-up taken out, so runs of
  // different lengths compare (the start-up is in the time chart).
  const bySize = new Map<number, number[]>();
  b.batchSizes.forEach((size, i) =>
    bySize.set(size, [...(bySize.get(size) ?? []), size / b.secondsPerBatch[i]!]),
  );
  const rows: Row[] = [...bySize].map(([size, v]) => ({
    x: size,
    y: median(v),
    series: 'measured',
  }));
  const model = curve(
    Math.min(...b.batchSizes),
    Math.max(...b.batchSizes),
    (s) => s / Math.max(1e-12, b.fit.a + b.fit.b * s),
    'per-batch cost fit',
    true,
  );
  const svg = await renderSvg({
    title: {
      text: 'Pipeline throughput against batch size',
      subtitle: `${b.workers} worker${b.workers === 1 ? '' : 's'}; dots measured, line from the per-batch cost fit`,
    },
    layer: [
      {
        data: { values: model },
        mark: { type: 'line', strokeWidth: 2 },
        encoding: enc(
          'x',
          'y',
          'Batch size (rows, log scale)',
          'Throughput (rows/s, start-up excluded)',
          true,
        ),
      },
      {
        data: { values: rows },
        mark: { type: 'point', filled: true, size: 80 },
        encoding: enc(
          'x',
          'y',
          'Batch size (rows, log scale)',
          'Throughput (rows/s, start-up excluded)',
          true,
        ),
      },
    ],
  });
  const share = (s: number) => (b.fit.a > 0 ? b.fit.a / (b.fit.a + b.fit.b * s) : 0);
  const sizes = [...new Set(b.batchSizes)];
  return {
    id,
    title: 'Pipeline throughput against batch size',
    svg,
    reading: `Each dot is the rows per second of the runs at one batch size (median, the start-up the time fit found taken out); the line is what the fitted cost of a batch — ${duration(Math.max(0, b.fit.a))} fixed plus ${num(b.fit.b * 1e6)} µs per row — allows. The fixed part is ${sizes.map((s) => `${pct(share(s))} at ${s} rows`).join(', ')}: throughput rises with batch size while that share is large and levels off once it is small. ${a.batchLever ? 'At the batch size in use the overhead still dominates: raise --batch-size.' : 'At the batch size in use the overhead is small: batch size is not the lever.'}`,
  };
}

/** Every chart for one analysis, in reading order. */
export async function chartsFor(
  a: ServeAnalysis | PipelineAnalysis,
  prefix: string,
): Promise<Chart[]> {
  const out: (Chart | undefined)[] = [];
  if (a.kind === 'pipeline') {
    out.push(await timeChart(a, `${prefix}-time`));
    if (a.scaling)
      out.push(
        await scalingChart(a.scaling.series, a.scaling.verdict, `${prefix}-scaling`, 'Pipeline'),
      );
    out.push(await batchChart(a, `${prefix}-batch`));
  } else {
    if (a.scaling)
      out.push(
        await scalingChart(a.scaling.series, a.scaling.verdict, `${prefix}-scaling`, 'Serving'),
      );
    out.push(await kneeChart(a, `${prefix}-knee`));
    out.push(await kneeByConfigChart(a, `${prefix}-knee-by-config`));
    out.push(await batchChart(a, `${prefix}-batch`));
    out.push(await variantChart(a, `${prefix}-variants`));
  }
  return out.filter((c): c is Chart => c !== undefined);
}
