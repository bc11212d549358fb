import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { advise } from '../../src/analysis/advisor.js';
import { writeReport } from '../../src/analysis/report.js';
import { readSweepFile } from '../../src/analysis/sweep-file.js';
import type { SweepFile } from '../../src/analysis/sweep-schema.js';
import { packageRoot } from '../../src/util/package-root.js';
import { tempDir } from '../helpers.js';

const fixtures = join(packageRoot(), 'test', 'fixtures', 'sweeps');

describe('writeReport', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => {};
  let sweeps: SweepFile[] = [];
  before(async () => {
    ({ dir, cleanup } = await tempDir('mlscale-report-'));
    sweeps = [
      await readSweepFile(join(fixtures, 'serve-2cpu')),
      await readSweepFile(join(fixtures, 'pipeline-2cpu')),
    ];
  });
  after(() => cleanup());

  test('should write a self-contained page with one inline SVG per chart, and the Markdown with chart files', async () => {
    const advice = advise(sweeps, { prices: { '2cpu': 0.1, '8cpu': 0.38 } });
    const { html, markdown } = await writeReport(join(dir, 'r'), sweeps, advice);
    const page = await readFile(html, 'utf8');
    assert.equal((page.match(/<figure class="chart"/g) ?? []).length, 7);
    assert.equal((page.match(/<svg /g) ?? []).length, 7);
    assert.doesNotMatch(page, /<script|<link |src="http/, 'the page loads nothing');
    assert.match(page, /What to do next/);
    assert.match(page, /\$0\.00247 per million predictions/);
    const charts = (await readdir(join(dir, 'r', 'charts'))).sort();
    assert.equal(charts.length, 7);
    const md = await readFile(markdown, 'utf8');
    for (const c of charts) assert.ok(md.includes(`](charts/${c})`), `report.md links ${c}`);
    assert.match(md, /\| serve \| 2cpu \| horizontal \| 1 \| 11,250 req\/s \|/);
  });

  test('should render only the charts a sweep has data for', async () => {
    const pipelineOnly = [sweeps[1]!];
    const { html } = await writeReport(join(dir, 'p'), pipelineOnly, advise(pipelineOnly));
    const ids = [
      ...(await readFile(html, 'utf8')).matchAll(/<figure class="chart" id="([^"]+)"/g),
    ].map((m) => m[1]);
    assert.deepEqual(ids, ['pipeline-1-time', 'pipeline-1-scaling', 'pipeline-1-batch']);
  });
});
