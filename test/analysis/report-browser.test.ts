import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { advise } from '../../src/analysis/advisor.js';
import { writeReport } from '../../src/analysis/report.js';
import { readSweepFile } from '../../src/analysis/sweep-file.js';
import { packageRoot } from '../../src/util/package-root.js';
import { browserSkipReason, launchBrowser } from '../dashboard/browser.js';
import { tempDir } from '../helpers.js';

const fixtures = join(packageRoot(), 'test', 'fixtures', 'sweeps');
const skip = browserSkipReason();
if (skip) console.log(`# report browser test skipped: ${skip}`);

describe('report in a browser', { skip }, () => {
  let browser: Browser | undefined;
  let html = '';
  let cleanup: () => Promise<void> = async () => {};

  before(async () => {
    const t = await tempDir('mlscale-report-');
    cleanup = t.cleanup;
    const sweeps = [
      await readSweepFile(join(fixtures, 'serve-2cpu')),
      await readSweepFile(join(fixtures, 'pipeline-2cpu')),
    ];
    const advice = advise(sweeps, {
      prices: { '2cpu': 0.1, '8cpu': 0.38 },
      targetRate: 40000,
      targetRows: 50_000_000,
      targetSeconds: 300,
    });
    html = (await writeReport(t.dir, sweeps, advice)).html;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await cleanup();
  });

  test('should show every chart as a non-empty SVG with marks, and the advice', async () => {
    const page = await browser!.newPage({ viewport: { width: 1100, height: 900 } });
    try {
      await page.goto(pathToFileURL(html).href);
      const charts = await page.$$eval('figure.chart', (figs) =>
        figs.map((f) => {
          const svg = f.querySelector('svg');
          const box = svg?.getBoundingClientRect();
          return {
            id: f.id,
            width: box?.width ?? 0,
            height: box?.height ?? 0,
            marks: svg
              ? svg.querySelectorAll(
                  'path, line, circle, rect.mark-rect, .mark-symbol path, .mark-line path',
                ).length
              : 0,
            lines: svg ? svg.querySelectorAll('.mark-line path').length : 0,
            symbols: svg ? svg.querySelectorAll('.mark-symbol path').length : 0,
            caption: f.querySelector('figcaption')?.textContent ?? '',
            axisTitles: svg
              ? [...svg.querySelectorAll('.role-axis-title text')].map((t) => t.textContent ?? '')
              : [],
          };
        }),
      );
      const ids = charts.map((c) => c.id).sort();
      assert.deepEqual(ids, [
        'pipeline-2-batch',
        'pipeline-2-scaling',
        'pipeline-2-time',
        'serve-1-batch',
        'serve-1-knee',
        'serve-1-knee-by-config',
        'serve-1-scaling',
      ]);
      for (const c of charts) {
        assert.ok(c.width > 200 && c.height > 150, `${c.id} is ${c.width}×${c.height}`);
        assert.ok(c.lines + c.symbols > 0, `${c.id} has no lines or points`);
        assert.ok(
          c.axisTitles.length >= 2 && c.axisTitles.every((t) => /\(.+\)/.test(t) || /N$/.test(t)),
          `${c.id} axis titles without units: ${c.axisTitles.join(' | ')}`,
        );
        assert.ok(c.caption.length > 100, `${c.id} has no reading`);
      }
      const advice = await page.textContent('.advice');
      assert.match(advice ?? '', /Serving: horizontal/);
      assert.match(advice ?? '', /Pipeline: horizontal/);
      await mkdir(join(packageRoot(), '.tmp'), { recursive: true });
      await page.screenshot({ path: join(packageRoot(), '.tmp', 'report.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });
});
