/**
 * What `mlscale optimize` prints: a table of the original and each variant (size, rows/s at each
 * batch size, load time, accuracy or agreement, written or not) with the reasons below it, and
 * the `--json` form.
 *
 * @module
 */
import type { OptimizeReport, Quality, VariantReport } from '../model/optimize/optimize.js';

const n = (v: number) => Math.round(v).toLocaleString('en-US');
const x = (v: number) => `${v.toFixed(2)}x`;

function size(bytes: number): string {
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} B`;
}

function quality(q: Quality | undefined): string {
  if (!q) return '';
  if (q.kind === 'data') {
    const name = q.metric === 'r2' ? 'R²' : 'acc';
    return `${name} ${q.value.toFixed(4)} (${q.drop > 0 ? '−' : '+'}${Math.abs(q.drop).toFixed(2)} pt)`;
  }
  return `${q.top1 !== undefined ? `top-1 ${(q.top1 * 100).toFixed(2)}%, ` : ''}max |Δ| ${q.maxAbsDiff.toPrecision(2)}`;
}

function pad(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
}

/** The human report: the measurement's basis, the table, then one paragraph per variant. */
export function optimizeText(r: OptimizeReport): string {
  const m = r.measurement;
  const batches = m.batchSizes;
  const head = [
    'variant',
    'size',
    ...batches.map((b) => `rows/s @${b}`),
    'load',
    r.model.score ? (r.model.score.metric === 'r2' ? 'R²' : 'accuracy') : 'agreement',
    'written',
  ];
  const rows: string[][] = [head];
  const score = r.model.score;
  rows.push([
    'original',
    size(r.model.sizeBytes),
    ...batches.map((b) => n(r.model.speed.find((p) => p.batch === b)?.rowsPerS ?? NaN)),
    `${r.model.loadMs.toFixed(0)} ms`,
    score ? `${score.metric === 'r2' ? 'R²' : 'acc'} ${score.value.toFixed(4)}` : '',
    '',
  ]);
  for (const v of r.variants) {
    if (!v.applicable) {
      rows.push([v.variant, '', ...batches.map(() => ''), '', '', 'n/a']);
      continue;
    }
    rows.push([
      v.variant,
      `${size(v.sizeBytes!)} (${x(v.sizeRatio!)})`,
      ...batches.map((b) => {
        const p = v.speed?.find((s) => s.batch === b);
        return p ? `${n(p.rowsPerS)} (${x(p.ratio)})` : '';
      }),
      `${v.loadMs!.toFixed(0)} ms`,
      quality(v.quality),
      v.written ? 'yes' : 'no',
    ]);
  }
  const lines = [
    `mlscale optimize: ${r.model.path} (${size(r.model.sizeBytes)}, sha256 ${r.model.sha256.slice(0, 12)}…)`,
    `measured: onnxruntime ${m.onnxruntime}, ${m.threads} intra-op thread${m.threads === 1 ? '' : 's'}, ${m.repeats} interleaved repeat${m.repeats === 1 ? '' : 's'} of ${m.measureMs} ms per model and batch size (medians; ratios to the original in the same repeat); ${m.machine.cpuModel}, ${m.machine.cpus} CPUs`,
    score ? `scored on ${n(score.rows)} rows: ${score.split}` : qualityBasis(r.variants),
    '',
    ...pad(rows),
    '',
  ];
  for (const v of r.variants) lines.push(...variantLines(v));
  return lines.join('\n').trimEnd();
}

function qualityBasis(variants: readonly VariantReport[]): string {
  const q = variants.find((v) => v.quality && v.quality.kind === 'agreement')?.quality;
  return q && q.kind === 'agreement'
    ? `no --data: outputs (${q.output}) compared on ${n(q.rows)} made-up rows: ${q.inputs}`
    : '';
}

function variantLines(v: VariantReport): string[] {
  if (!v.applicable) return [`${v.variant}: ${v.verdict}`];
  const out = [`${v.variant}: ${v.summary}. ${v.verdict}`];
  const d = v.details;
  if (d?.kind === 'int8') {
    out.push(`  weights: ${d.reduceRange ? '7' : '8'} bits, because ${d.reduceRangeReason}`);
    for (const l of d.layers.filter((l) => !l.quantized))
      out.push(`  kept FP32: ${l.node} (${l.op}): ${l.reason}`);
  }
  if (d?.kind === 'fp16')
    for (const t of d.tensors.filter((t) => !t.converted))
      out.push(`  kept FP32: ${t.name}: ${t.reason}`);
  if (v.written && v.target) out.push(`  serve it: ${v.target.serveWith}`);
  return out;
}

/** The `--json` report: everything measured, the options, and where each variant went. */
export function optimizeJson(r: OptimizeReport): Record<string, unknown> {
  return { ...r } as Record<string, unknown>;
}
