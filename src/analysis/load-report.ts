/**
 * The report of one `mlscale load` run (`--report DIR`): the summary, each threshold passed or
 * failed, and the per-second time series charted (offered and answered rate, latency percentiles,
 * errors), as one self-contained HTML page with inline SVG and the same in Markdown.
 *
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderSvg } from './charts.js';
import type { LoadInterval, LoadResult } from './load-result.js';
import { formatOutcome, type ThresholdOutcome } from './thresholds.js';

/** A chart of the time series. */
export interface SeriesChart {
  readonly id: string;
  readonly title: string;
  readonly reading: string;
  readonly svg: string;
}

const axis = (title: string) => ({ title, grid: true });
const legend = { orient: 'bottom', direction: 'horizontal', title: null };

/** The time series' charts: rates over time and latency over time (none for an empty series). */
export async function timeseriesCharts(series: readonly LoadInterval[]): Promise<SeriesChart[]> {
  if (series.length === 0) return [];
  const rates: Record<string, number | string>[] = [];
  const latency: Record<string, number | string>[] = [];
  for (const s of series) {
    if (s.offeredRate !== null) rates.push({ t: s.t, v: s.offeredRate, series: 'offered (req/s)' });
    rates.push({ t: s.t, v: s.okRate, series: '2xx answers/s' });
    if (s.errors > 0) rates.push({ t: s.t, v: s.errors, series: 'errors in the second' });
    for (const [k, v] of [
      ['p50', s.p50Ms],
      ['p90', s.p90Ms],
      ['p99', s.p99Ms],
    ] as const)
      if (v !== null) latency.push({ t: s.t, v, series: k });
  }
  const line = (values: typeof rates, y: string, title: string, subtitle: string) =>
    renderSvg({
      title: { text: title, subtitle },
      data: { values },
      mark: { type: 'line', point: true, strokeWidth: 2 },
      encoding: {
        x: { field: 't', type: 'quantitative', axis: axis('Time since the start (s)') },
        y: { field: 'v', type: 'quantitative', axis: axis(y) },
        color: { field: 'series', type: 'nominal', legend },
      },
    });
  const peak = series.reduce((p, s) => (s.okRate > p.okRate ? s : p));
  const worst = series.reduce((p, s) => ((s.p99Ms ?? 0) > (p.p99Ms ?? 0) ? s : p));
  const open = series.some((s) => s.offeredRate !== null);
  return [
    {
      id: 'rate-over-time',
      title: 'Rate over time',
      svg: await line(
        rates,
        'Requests per second',
        'Rate over time',
        open ? 'offered by the profile against 2xx answers received' : '2xx answers received',
      ),
      reading:
        `One point a second. ${open ? 'Where the answered rate falls below the offered one, the server (or the generator: see the summary) could not keep up. ' : ''}` +
        `Peak: ${peak.okRate.toFixed(1)} answers/s at ${peak.t.toFixed(0)} s.`,
    },
    {
      id: 'latency-over-time',
      title: 'Latency over time',
      svg: await line(
        latency,
        'Latency (ms)',
        'Latency over time',
        'percentiles of the 2xx answers received each second',
      ),
      reading:
        latency.length === 0
          ? 'No 2xx answer: no latency to show.'
          : `The worst second's p99 was ${(worst.p99Ms ?? 0).toFixed(1)} ms at ${worst.t.toFixed(0)} s. A p99 that climbs while the rate holds is a queue building up.`,
    },
  ];
}

/** Writes `<dir>/load.html` and `<dir>/load.md` (charts also as `<dir>/charts/*.svg`). */
export async function writeLoadReport(
  dir: string,
  url: string,
  summary: string,
  result: LoadResult,
  series: readonly LoadInterval[],
  outcomes: readonly ThresholdOutcome[],
): Promise<{ html: string; markdown: string }> {
  const charts = await timeseriesCharts(series);
  await mkdir(join(dir, 'charts'), { recursive: true });
  for (const c of charts) await writeFile(join(dir, 'charts', `${c.id}.svg`), c.svg);
  const verdict =
    outcomes.length === 0
      ? []
      : [
          outcomes.every((o) => o.passed)
            ? `All ${outcomes.length} thresholds passed.`
            : `${outcomes.filter((o) => !o.passed).length} of ${outcomes.length} thresholds FAILED.`,
          ...outcomes.map(formatOutcome),
        ];
  const generated = new Date().toISOString();
  const md = [
    `# Load run: ${url}`,
    '',
    `Generated ${generated}${result.profile ? `; profile: ${result.profile}` : ''}.`,
    '',
    ...(verdict.length
      ? ['## Thresholds', '', ...verdict.map((l, i) => (i ? `- ${l}` : l)), '']
      : []),
    '## Summary',
    '',
    '```',
    summary,
    '```',
    '',
    ...charts.flatMap((c) => [
      `## ${c.title}`,
      '',
      `![${c.title}](charts/${c.id}.svg)`,
      '',
      c.reading,
      '',
    ]),
  ].join('\n');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Load run: ${esc(url)}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
pre{background:#f5f5f5;padding:.8rem;overflow:auto}.pass{color:#1a7f37}.fail{color:#c62828;font-weight:600}</style>
</head><body>
<h1>Load run: ${esc(url)}</h1>
<p>Generated ${esc(generated)}${result.profile ? `; profile: ${esc(result.profile)}` : ''}.</p>
${
  verdict.length
    ? `<h2>Thresholds</h2><p>${esc(verdict[0]!)}</p><ul>${outcomes
        .map((o) => `<li class="${o.passed ? 'pass' : 'fail'}">${esc(formatOutcome(o))}</li>`)
        .join('')}</ul>`
    : ''
}
<h2>Summary</h2><pre>${esc(summary)}</pre>
${charts.map((c) => `<h2>${esc(c.title)}</h2>${c.svg}<p>${esc(c.reading)}</p>`).join('\n')}
</body></html>
`;
  const htmlPath = join(dir, 'load.html');
  const mdPath = join(dir, 'load.md');
  await writeFile(htmlPath, html);
  await writeFile(mdPath, md);
  return { html: htmlPath, markdown: mdPath };
}

function esc(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}
