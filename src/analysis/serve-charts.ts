/**
 * The charts of a serve sweep: the knee of latency against rate, per configuration, and the
 * model variants side by side.
 *
 * @module
 */
import type { ServeAnalysis } from './analyse-serve.js';
import { enc, legend, renderSvg, type Chart, type Row } from './chart-kit.js';
import { num, ratio } from './format.js';
import { units } from './scaling.js';
import { configLabel } from './sweep-file.js';

/** Latency percentiles against offered rate for the best configuration: the knee. */
export async function kneeChart(a: ServeAnalysis, id: string): Promise<Chart | undefined> {
  // Generator-bound points are drawn too (hollow), so that a sweep whose load generator could not keep
  // up still shows what it saw; the reading says how many there were.
  const pts = a.best.points
    .filter((p) => p.offeredRate !== null)
    .sort((p, q) => p.offeredRate! - q.offeredRate!);
  const bound = pts.filter((p) => p.generatorBound).length;
  if (pts.length < 2) return undefined;
  const rows: Row[] = [];
  for (const p of pts)
    for (const k of ['p50', 'p90', 'p99'] as const)
      rows.push({ x: p.offeredRate!, y: Math.max(0.01, p.latencyMs[k]), series: k });
  const slo = a.sweep.sloP99Ms;
  const svg = await renderSvg({
    title: {
      text: 'Latency against offered load (the knee)',
      subtitle: `${configLabel(a.best.config)}; open-loop load, ${a.sweep.pointDurationS} s per rate`,
    },
    layer: [
      {
        data: { values: rows },
        mark: { type: 'line', point: true, strokeWidth: 2 },
        encoding: enc(
          'x',
          'y',
          'Offered rate (requests/s)',
          'Latency (ms, log scale)',
          false,
          true,
        ),
      },
      {
        data: { values: [{ y: slo }] },
        mark: { type: 'rule', color: '#c00', strokeDash: [6, 4] },
        encoding: { y: { field: 'y', type: 'quantitative' } },
      },
      {
        data: { values: [{ y: slo, label: `SLO: p99 ≤ ${num(slo)} ms` }] },
        mark: { type: 'text', align: 'left', dy: -6, color: '#c00' },
        encoding: {
          x: { value: 4 },
          y: { field: 'y', type: 'quantitative' },
          text: { field: 'label' },
        },
      },
      ...(a.best.maxRateAtSlo > 0
        ? [
            {
              data: { values: [{ x: a.best.maxRateAtSlo }] },
              mark: { type: 'rule', color: '#888', strokeDash: [2, 3] },
              encoding: { x: { field: 'x', type: 'quantitative' } },
            },
          ]
        : []),
    ],
  });
  const over = pts.find((p) => !p.meetsSlo && p.offeredRate! > a.best.maxRateAtSlo);
  const boundText =
    bound > 0
      ? ` ${bound} of the ${pts.length} points were generator-bound: the load generator could not send at the offered rate, so they say little about the server.`
      : '';
  return {
    id,
    title: 'Latency against offered load (the knee)',
    svg,
    reading: `Each line is a latency percentile (p50, p90, p99) of the best configuration at each offered rate the search tried; the red dashed rule is the SLO and ${a.best.maxRateAtSlo > 0 ? `the grey dotted rule the highest rate that met it, ${num(a.best.maxRateAtSlo)} req/s (p99 ${num(a.best.p99AtMaxMs ?? NaN)} ms)` : 'no rate tried met it'}. ${a.best.maxRateAtSlo > 0 ? `Latency stays flat while the server keeps up and climbs steeply at the knee, as queues build: ${over ? `at ${num(over.offeredRate!)} req/s p99 is already ${num(over.latencyMs.p99)} ms` : 'no rate tried went past it'}. Plan capacity below the knee, not at it.` : `At the lowest rate tried, ${num(pts[0]!.offeredRate!)} req/s, p99 was already ${num(pts[0]!.latencyMs.p99)} ms: this configuration cannot meet the SLO at the rates tried.`}${boundText}`,
  };
}

/** p99 against offered rate for every configuration of the scaling series. */
export async function kneeByConfigChart(a: ServeAnalysis, id: string): Promise<Chart | undefined> {
  const s = a.scaling?.series;
  if (!s) return undefined;
  const field =
    s.dimension === 'threads' ? 'intraOpThreads' : (s.dimension as 'replicas' | 'instances');
  const rows: Row[] = [];
  for (const c of a.scaling!.configs) {
    for (const p of [...c.points]
      .filter((q) => q.offeredRate !== null)
      .sort((p, q) => p.offeredRate! - q.offeredRate!)) {
      rows.push({
        x: p.offeredRate!,
        y: Math.max(0.01, p.latencyMs.p99),
        series: units(c.config[field] as number, s.dimension),
      });
    }
  }
  if (rows.length < 2) return undefined;
  const svg = await renderSvg({
    title: { text: `p99 latency against offered load, by ${s.dimension}`, subtitle: s.fixed },
    layer: [
      {
        data: { values: rows },
        mark: { type: 'line', point: true, strokeWidth: 2 },
        encoding: enc(
          'x',
          'y',
          'Offered rate (requests/s)',
          'p99 latency (ms, log scale)',
          false,
          true,
        ),
      },
      {
        data: { values: [{ y: a.sweep.sloP99Ms }] },
        mark: { type: 'rule', color: '#c00', strokeDash: [6, 4] },
        encoding: { y: { field: 'y', type: 'quantitative' } },
      },
    ],
  });
  return {
    id,
    title: `p99 latency against offered load, by ${s.dimension}`,
    svg,
    reading: `One line per ${s.dimension.replace(/s$/, '')} count: where each crosses the red SLO rule is its capacity (${s.n.map((v, i) => `${v}: ${num(s.x[i]!)} req/s`).join(', ')}). A knee that moves right is capacity gained; ${a.scaling!.verdict.lever === 'horizontal' ? `here it stops moving at ${a.scaling!.verdict.bestN} ${s.dimension}.` : 'here it still moves right at the largest count.'}`,
  };
}

/** The base model and its variants side by side: each one's best rate at the SLO. */
export async function variantChart(a: ServeAnalysis, id: string): Promise<Chart | undefined> {
  if (a.variants.length === 0) return undefined;
  const rows: Row[] = [
    { model: a.sweep.model, y: a.variants[0]!.baseRate, series: 'the model as trained' },
    ...a.variants.map((v) => ({
      model: v.model,
      y: v.variantRate,
      series: v.pays ? 'pays (faster, accuracy within the limit)' : 'does not pay',
    })),
  ];
  const svg = await renderSvg({
    title: {
      text: 'Throughput at the SLO per model variant',
      subtitle: 'each in its best configuration of the grid',
    },
    data: { values: rows },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'model', type: 'nominal', sort: null, title: 'Model', axis: { labelAngle: 0 } },
      y: { field: 'y', type: 'quantitative', title: 'Throughput at the SLO (requests/s)' },
      color: {
        field: 'series',
        type: 'nominal',
        legend,
        scale: { range: ['#4c78a8', '#59a14f', '#bab0ac'] },
      },
    },
  });
  return {
    id,
    title: 'Throughput at the SLO per model variant',
    svg,
    reading: `Each bar is the highest rate a model met the SLO at, in its best configuration. ${a.variants
      .map(
        (v) =>
          `${v.model}: ${num(v.variantRate)} req/s against ${num(v.baseRate)} for ${v.of} (${ratio(v.speedup)})${v.drop !== undefined ? `, ${num(v.drop)} points of accuracy${v.accuracy === 'beyond' ? ', beyond the limit' : ''}` : ''}`,
      )
      .join(
        '; ',
      )}. A variant that serves more on the same machine cuts the cost of every prediction by the same factor.`,
  };
}
