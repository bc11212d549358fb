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
  const replicas = a.scaling?.series;
  if (replicas && replicas.n.length >= 2 && replicas.x[0]! > 0) {
    const i = atTwo(replicas.n);
    out.push(
      `Replicas: ${replicas.n[i]} ${replicas.dimension} serve ${n0(replicas.x[i]!)} requests/s against ${n0(replicas.x[0]!)} with ${replicas.n[0]}: ${x2(replicas.x[i]! / replicas.x[0]!)}.`,
    );
  }
  const batch = a.batch;
  if (batch && batch.batchSizes.length >= 2 && batch.x[0]! > 0) {
    const i = batch.batchSizes.length - 1;
    const mean = batch.meanBatch[i];
    out.push(
      `Batching: a batch limit of ${batch.batchSizes[i]} serves ${n0(batch.x[i]!)} requests/s against ${n0(batch.x[0]!)} at ${batch.batchSizes[0]}: ${x2(batch.x[i]! / batch.x[0]!)}${mean != null ? ` (batches averaged ${mean.toFixed(1)} rows)` : ''}.`,
    );
  }
  const points = configs.flatMap((c) => c.points);
  const bound = points.filter((p) => p.generatorBound).length;
  out.push(
    bound === 0
      ? `Every one of the ${points.length} load points measured the server: none was generator-bound.`
      : `${bound} of ${points.length} load points were generator-bound (the load generator, not the server, was the limit): they are set apart and not used for the figures above.`,
  );
  return out;
}
