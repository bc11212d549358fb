/**
 * The scaling report: one self-contained HTML page (charts as inline SVG, no scripts, no external
 * files) and the same in Markdown (charts as SVG files beside it), telling the scaling story of a
 * set of sweeps — the advisor's recommendation first, then each sweep's charts with a reading of
 * each, the numbers behind them, and the costs.
 *
 * @module
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bottleneckWords, leverWords, type Advice, type CostOption } from './advisor.js';
import { predictionText } from './prediction.js';
import type { Recommendation } from './recommend.js';

/** The bottleneck and the prediction of a recommendation, in words. */
function afterText(r: Recommendation): string {
  const b = `Bottleneck: ${bottleneckWords(r.bottleneck.kind)}${r.bottleneck.where ? ` (${r.bottleneck.where})` : ''}.`;
  const p = r.prediction
    ? ` Predicted: ${r.prediction.what}: ${predictionText(r.prediction)} — ${r.prediction.basis}.`
    : '';
  return b + p;
}
import { chartsFor, type Chart } from './charts.js';
import { duration, money, num } from './format.js';
import type { SweepFile } from './sweep-schema.js';

/** File names the report writes in its folder. */
export const kReportFiles = {
  html: 'report.html',
  markdown: 'report.md',
  charts: 'charts',
} as const;

/**
 * Writes `<dir>/report.html` and `<dir>/report.md` (with `<dir>/charts/*.svg`), creating `dir`.
 *
 * @param dir the folder to write in
 * @param sweeps the sweeps the advice was drawn from (listed in the report)
 * @param advice what advise(sweeps, …) returned
 * @returns the paths of the two files
 */
export async function writeReport(
  dir: string,
  sweeps: readonly SweepFile[],
  advice: Advice,
  options: { readonly findings?: readonly string[] } = {},
): Promise<{ html: string; markdown: string }> {
  if (typeof dir !== 'string' || dir === '')
    throw new TypeError(`dir must be a non-empty string, got ${JSON.stringify(dir)}`);
  const sections: { title: string; charts: Chart[]; statements: readonly string[] }[] = [];
  for (const [i, a] of advice.analyses.entries()) {
    sections.push({
      title: `${a.kind === 'serve' ? 'Serving' : 'Pipeline'}: ${a.source}`,
      charts: await chartsFor(a, `${a.kind}-${i + 1}`),
      statements: a.statements,
    });
  }
  const generated = new Date().toISOString();
  await mkdir(join(dir, kReportFiles.charts), { recursive: true });
  for (const s of sections)
    for (const c of s.charts)
      await atomicWrite(join(dir, kReportFiles.charts, `${c.id}.svg`), c.svg);
  const html = join(dir, kReportFiles.html);
  const markdown = join(dir, kReportFiles.markdown);
  const found = options.findings ?? [];
  await atomicWrite(html, renderHtml(sweeps, advice, sections, generated, found));
  await atomicWrite(markdown, renderMarkdown(sweeps, advice, sections, generated, found));
  return { html, markdown };
}

async function atomicWrite(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

function esc(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

function machineLine(s: SweepFile): string {
  const m = s.machine;
  return `${m.cpus} CPUs (${m.cpuModel}), ${num(m.memoryGiB)} GiB, Node ${m.node}, ${m.platform}`;
}

function sweepRows(sweeps: readonly SweepFile[]): string[][] {
  return sweeps.map((s) => [
    s.kind,
    s.kind === 'serve'
      ? `model ${s.model}, ${s.configs.length} configurations, SLO p99 ≤ ${num(s.sloP99Ms)} ms, ${s.rowsPerRequest} row(s)/request`
      : `${s.executor} executor, ${s.data}, ${s.points.length} runs`,
    machineLine(s),
    s.createdAt,
  ]);
}

function costRows(costs: readonly CostOption[]): string[][] {
  return costs.map((c) => [
    c.scope,
    c.label,
    (c.direction === 'optimize' ? `optimise: ${c.model}` : c.direction) +
      (c.predicted ? ' (predicted)' : ''),
    String(c.machines),
    `${num(c.throughput)} ${c.scope === 'serve' ? 'req/s' : 'rows/s'}`,
    `${money(c.pricePerHour)}/h`,
    `${money(c.costPerHour)}/h`,
    c.scope === 'serve'
      ? `${money(c.costPerMillion!)} per million predictions`
      : `${money(c.costPerRun!)} per run (${duration(c.runSeconds!)})`,
  ]);
}

const kCostHead = [
  'scope',
  'size',
  'direction',
  'machines',
  'per machine',
  'price',
  'cost',
  'unit cost',
];
const kSweepHead = ['kind', 'what', 'machine', 'measured'];

const kMethod = [
  'Time against data size: ordinary least squares t = a + b·n with R²; the O(n) claim holds when R² ≥ 0.98 and no point is more than 15% off the line.',
  'Throughput against concurrency: the Universal Scalability Law X(N) = λN / (1 + σ(N−1) + κN(N−1)) fitted by Levenberg–Marquardt with σ, κ ≥ 0; peak N* = sqrt((1−σ)/κ). With 3 or fewer levels it has as many parameters as points and is marked under-determined.',
  "Amdahl's law S(N) = 1 / (s + (1−s)/N), fitted within the measured machine's cores, predicts bigger machines; every such figure is marked predicted.",
  'Costs: cost per million predictions = price per hour ÷ (predictions/s × 3600) × 10⁶; cost per run = machines × price per hour × run hours.',
  'Optimising the model: a variant (INT8, FP16, graph-optimised, from mlscale optimize) measured in the same sweep, on the same grid, against the model as trained; its speed-up is the ratio of the two best rates at the SLO, its accuracy cost what mlscale optimize measured (on labelled rows, or as an upper bound from the share of rows whose top-1 class changed). It counts as a lever at ≥ 1.1x within the accuracy limit, and comes before scaling: it lowers the cost of every prediction, which more or bigger machines do not.',
];

function renderHtml(
  sweeps: readonly SweepFile[],
  advice: Advice,
  sections: { title: string; charts: Chart[]; statements: readonly string[] }[],
  generated: string,
  found: readonly string[],
): string {
  const table = (head: string[], rows: string[][]) =>
    `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  const recs = advice.recommendations
    .map(
      (r) =>
        `<li><strong>${esc(r.scope === 'serve' ? 'Serving' : 'Pipeline')}: ${esc(leverWords(r.lever))}${r.then ? esc(`, then ${leverWords(r.then)}`) : ''}.</strong> ${esc(r.text)} ${esc(afterText(r))}</li>`,
    )
    .join('\n');
  const body = sections
    .map(
      (s) => `<section>
<h2>${esc(s.title)}</h2>
${s.charts
  .map(
    (c) => `<figure class="chart" id="${esc(c.id)}" data-chart="${esc(c.id)}">
${c.svg}
<figcaption><strong>${esc(c.title)}.</strong> ${esc(c.reading)}</figcaption>
</figure>`,
  )
  .join('\n')}
<h3>The numbers behind it</h3>
<ul>${s.statements.map((t) => `<li>${esc(t)}</li>`).join('\n')}</ul>
</section>`,
    )
    .join('\n');
  const costs =
    advice.costs.length > 0
      ? `${table(kCostHead, costRows(advice.costs))}<ul>${advice.costStatements.map((t) => `<li>${esc(t)}</li>`).join('\n')}</ul>`
      : '<p>No prices were given: run <code>mlscale advise … --price 2cpu=0.10/h,8cpu=0.38/h</code> to compare vertical and horizontal by cost.</p>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mlscale scaling report</title>
<style>
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; max-width: 980px; margin: 2em auto; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } .meta { color: #666; margin-top: 0; }
.advice { background: #f3f7fc; border-left: 4px solid #4c78a8; padding: 0.6em 1.2em; }
.advice li { margin: 0.5em 0; }
figure.chart { margin: 1.5em 0; padding: 0.5em; border: 1px solid #ddd; border-radius: 4px; }
figure.chart svg { max-width: 100%; height: auto; display: block; margin: 0 auto; }
figcaption { margin-top: 0.5em; color: #333; }
table { border-collapse: collapse; font-size: 13px; margin: 1em 0; } th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; } th { background: #f4f4f4; }
section ul li { margin: 0.3em 0; }
</style>
</head>
<body>
<h1>mlscale scaling report</h1>
${found.length > 0 ? `<div class="advice" id="findings"><h2>Findings</h2><ul>${found.map((f) => `<li>${esc(f)}</li>`).join('\n')}</ul></div>` : ''}
<p class="meta">Generated ${esc(generated)} from ${sweeps.length} sweep${sweeps.length === 1 ? '' : 's'}.</p>
${table(kSweepHead, sweepRows(sweeps))}
<div class="advice">
<h2>What to do next</h2>
<ul>
${recs}
</ul>
</div>
${body}
<section>
<h2>Costs</h2>
${costs}
</section>
<section>
<h2>Method</h2>
<ul>${kMethod.map((t) => `<li>${esc(t)}</li>`).join('\n')}</ul>
</section>
</body>
</html>
`;
}

function renderMarkdown(
  sweeps: readonly SweepFile[],
  advice: Advice,
  sections: { title: string; charts: Chart[]; statements: readonly string[] }[],
  generated: string,
  found: readonly string[],
): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const table = (head: string[], rows: string[][]) =>
    [
      `| ${head.join(' | ')} |`,
      `| ${head.map(() => '---').join(' | ')} |`,
      ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
    ].join('\n');
  const out: string[] = [
    '# mlscale scaling report',
    '',
    ...(found.length > 0 ? ['## Findings', '', ...found.map((f) => `- ${f}`), ''] : []),
    `Generated ${generated} from ${sweeps.length} sweep${sweeps.length === 1 ? '' : 's'}.`,
    '',
    table(kSweepHead, sweepRows(sweeps)),
    '',
    '## What to do next',
    '',
  ];
  for (const r of advice.recommendations)
    out.push(
      `- **${r.scope === 'serve' ? 'Serving' : 'Pipeline'}: ${leverWords(r.lever)}${r.then ? `, then ${leverWords(r.then)}` : ''}.** ${r.text} ${afterText(r)}`,
    );
  for (const s of sections) {
    out.push('', `## ${s.title}`, '');
    for (const c of s.charts)
      out.push(
        `![${c.title}](${kReportFiles.charts}/${c.id}.svg)`,
        '',
        `**${c.title}.** ${c.reading}`,
        '',
      );
    out.push('### The numbers behind it', '', ...s.statements.map((t) => `- ${t}`));
  }
  out.push('', '## Costs', '');
  if (advice.costs.length > 0)
    out.push(
      table(kCostHead, costRows(advice.costs)),
      '',
      ...advice.costStatements.map((t) => `- ${t}`),
    );
  else
    out.push(
      'No prices were given: run `mlscale advise … --price 2cpu=0.10/h,8cpu=0.38/h` to compare vertical and horizontal by cost.',
    );
  out.push('', '## Method', '', ...kMethod.map((t) => `- ${t}`), '');
  return out.join('\n');
}
