import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { advise } from '../../src/analysis/advisor.js';
import { writeReport } from '../../src/analysis/report.js';
import { findings } from '../../src/analysis/findings.js';
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

describe('findings (the report opens with them)', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => {};
  before(async () => ({ dir, cleanup } = await tempDir('mlscale-findings-')));
  after(() => cleanup());

  test('should say O(n) with R², the speed-up at 2, what batching and replicas buy, and the next step', async () => {
    const sweeps = [
      await readSweepFile(join(fixtures, 'serve-2cpu')),
      await readSweepFile(join(fixtures, 'pipeline-2cpu')),
    ];
    const advice = advise(sweeps);
    const found = findings(advice);
    assert.match(
      found[0]!,
      /^Pipeline time is linear in the data, O\(n\): every series fits t = a \+ b·n with R² ≥ 0\.9\d+ \(3 series\)\.$/,
    );
    assert.match(
      found[1]!,
      /^Parallelism: 2 workers process [\d,]+ rows\/s against [\d,]+ with 1, a speed-up of \d\.\d\dx/,
    );
    assert.ok(
      found.some((f) =>
        /^Serving: the sweep found .+ best, 11,250 requests\/s within the p99 objective of 50 ms/.test(
          f,
        ),
      ),
    );
    assert.ok(
      found.some((f) =>
        /^Replicas: 2 replicas serve [\d,]+ requests\/s against 6,150 with 1: \d\.\d\dx\.$/.test(f),
      ),
    );
    assert.ok(
      found.some((f) =>
        /^Batching: a batch limit of 64 serves 11,250 requests\/s against 5,150 at 1: 2\.18x/.test(
          f,
        ),
      ),
    );
    assert.ok(found.some((f) => /none was generator-bound/.test(f)));
    assert.match(found.at(-1)!, /^Next step: /);

    const { html, markdown } = await writeReport(join(dir, 'r'), sweeps, advice, {
      findings: found,
    });
    const md = await readFile(markdown, 'utf8');
    assert.ok(
      md.startsWith(`# mlscale scaling report\n\n## Findings\n\n- ${found[0]}`),
      md.slice(0, 300),
    );
    const page = await readFile(html, 'utf8');
    assert.ok(page.indexOf('<h2>Findings</h2>') < page.indexOf('What to do next'));
  });
});
