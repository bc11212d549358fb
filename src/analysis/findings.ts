/**
 * The findings a report opens with, in plain words: does time grow linearly with the data (R²),
 * what a second worker buys, what batching buys, what a replica buys, which configuration the
 * serve sweep found, which load points say nothing of the server (generator-bound), and the next
 * step. Read from the advisor's analyses, so they carry the same numbers as the sections below.
 *
 * @module
 */
import type { Advice } from './advisor.js';
import type { PipelineAnalysis } from './analyse-pipeline.js';
import type { ServeAnalysis } from './analyse-serve.js';
import { configLabel } from './sweep-file.js';

const x2 = (v: number) => `${v.toFixed(2)}x`;
const n0 = (v: number) => v.toLocaleString('en-US', { maximumFractionDigits: 0 });
/** The point at 2 (workers, replicas) when measured, else the largest: "what a second one buys". */
const atTwo = (n: readonly number[]) => (n.includes(2) ? n.indexOf(2) : n.length - 1);

/** One sentence per finding, most important first. */
export function findings(advice: Advice): string[] {
  const out: string[] = [];
  // The pipeline's story first (linear time, then parallelism), then serving's.
  for (const a of advice.analyses) if (a.kind === 'pipeline') out.push(...pipelineFindings(a));
  for (const a of advice.analyses) if (a.kind === 'serve') out.push(...serveFindings(a));
  const next = advice.recommendations[0];
  if (next) out.push(`Next step: ${next.text}`);
  return out;
}

function pipelineFindings(a: PipelineAnalysis): string[] {
  const out: string[] = [];
  if (a.time.length > 0) {
    const lowest = Math.min(...a.time.map((t) => t.fit.r2));
    out.push(
      a.time.every((t) => t.fit.linear)
        ? `Pipeline time is linear in the data, O(n): every series fits t = a + b·n with R² ≥ ${(Math.floor(lowest * 1e4) / 1e4).toFixed(4)} (${a.time.length} series).`
        : `Pipeline time is not shown linear: the lowest R² is ${lowest.toFixed(3)} (below 0.98, or a point more than 15% off its line); runs this short are dominated by start-up.`,
    );
  }
  const s = a.scaling?.series;
  if (s && s.n.length >= 2) {
    const i = atTwo(s.n);
    out.push(
      `Parallelism: ${s.n[i]} ${s.dimension} process ${n0(s.x[i]!)} ${s.unit} against ${n0(s.x[0]!)} with ${s.n[0]}, a speed-up of ${x2(s.x[i]! / s.x[0]!)}${s.n[i] === 2 && s.n[0] === 1 ? ' (2 is the ideal)' : ''}.`,
    );
  }
  return out;
}

function serveFindings(a: ServeAnalysis): string[] {
  const out: string[] = [];
  const configs = a.sweep.configs;
  const best = a.best;
  out.push(
    best.maxRateAtSlo > 0
      ? `Serving: the sweep found ${configLabel(best.config)} best, ${n0(best.maxRateAtSlo)} requests/s within the p99 objective of ${a.sweep.sloP99Ms} ms (p99 ${best.p99AtMaxMs?.toFixed(1)} ms there).`
      : `Serving: no configuration met the p99 objective of ${a.sweep.sloP99Ms} ms at any rate tried.`,
  );
  const replicas = compare(configs, 'replicas');
  if (replicas)
    out.push(
      replicas.base === 0
        ? `Replicas: no comparison — no configuration with ${replicas.n0} replica${replicas.n0 === 1 ? '' : 's'} met the p99 objective.`
        : `Replicas: ${replicas.n} replicas serve ${n0(replicas.best)} requests/s against ${n0(replicas.base)} with ${replicas.n0}: ${x2(replicas.best / replicas.base)}.`,
    );
  const batch = compare(configs, 'maxBatchSize');
  if (batch)
    out.push(
      batch.base === 0
        ? `Batching: no comparison — no configuration with a batch limit of ${batch.n0} met the p99 objective.`
        : `Batching: a batch limit of ${batch.n} serves ${n0(batch.best)} requests/s against ${n0(batch.base)} at ${batch.n0}: ${x2(batch.best / batch.base)}${batch.meanBatch != null ? ` (batches averaged ${batch.meanBatch.toFixed(1)} rows)` : ''}.`,
    );
  const points = configs.flatMap((c) => c.points);
  const bound = points.filter((p) => p.generatorBound).length;
  out.push(
    bound === 0
      ? `Every one of the ${points.length} load points measured the server: none was generator-bound.`
      : `${bound} of ${points.length} load points were generator-bound (the load generator, not the server, was the limit): they are set apart and not used for the figures above.`,
  );
  return out;
}

/**
 * The best rate at the SLO with the setting at 2 (or its largest value) against its smallest value,
 * each the best over the other settings; undefined when the sweep tried one value only.
 */
function compare(
  configs: ServeAnalysis['sweep']['configs'],
  field: 'replicas' | 'maxBatchSize',
): { n: number; n0: number; best: number; base: number; meanBatch: number | null } | undefined {
  const values = [...new Set(configs.map((c) => c.config[field]))].sort((p, q) => p - q);
  if (values.length < 2) return undefined;
  const n0v = values[0]!;
  const nv = field === 'replicas' && values.includes(2) ? 2 : values.at(-1)!;
  const bestOf = (v: number) =>
    configs
      .filter((c) => c.config[field] === v)
      .reduce((p, c) => (c.maxRateAtSlo > p.maxRateAtSlo ? c : p));
  const top = bestOf(nv);
  return {
    n: nv,
    n0: n0v,
    best: top.maxRateAtSlo,
    base: bestOf(n0v).maxRateAtSlo,
    meanBatch: top.meanBatchSize,
  };
}
