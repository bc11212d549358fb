/**
 * The serve dashboard in a real browser against a real `mlscale serve` under a small load: the
 * charts show non-zero data, the model list shows the model and its readiness, and the unload and
 * load buttons change it (with the admin token typed into the page). Screenshots go to .tmp/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { Prng } from '../../src/model/prng.js';
import { packageRoot } from '../../src/util/package-root.js';
import { tempDir } from '../helpers.js';
import { serveProcess, stopServed, type Served } from '../serve/serve-process.js';
import {
  inferBody,
  randomInput,
  smallModelBytes,
  writeModel,
} from '../serve/server/server-fixture.js';
import { browserSkipReason, launchBrowser } from './browser.js';

const token = 'dashboard-browser-token';
const skip = browserSkipReason();
if (skip) process.stdout.write(`# serve dashboard browser test skipped: ${skip}\n`);

/** A bounded closed-loop load: `concurrency` loops until `maxRequests` answers or `maxMs`. */
async function boundedLoad(
  url: string,
  concurrency: number,
  maxRequests: number,
  maxMs: number,
): Promise<number> {
  const body = JSON.stringify(inferBody(randomInput(new Prng(5), 1)));
  const deadline = Date.now() + maxMs;
  let sent = 0;
  let ok = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < maxRequests && Date.now() < deadline) {
        sent++;
        const res = await fetch(`${url}/v2/models/digits/infer`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
          signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer();
        if (res.ok) ok++;
      }
    }),
  );
  return ok;
}

/** Waits until `expression` (evaluated in the page) is truthy. */
const waitFor = (page: Page, expression: string, timeout = 15_000): Promise<unknown> =>
  page.waitForFunction(expression, undefined, { timeout });

const modelState = (page: Page): Promise<string | null> =>
  page.locator('tr[data-model="digits"] [data-state]').getAttribute('data-state');

describe('serve dashboard in a browser', { skip }, () => {
  let served: Served;
  let browser: Browser;
  let cleanup: () => Promise<void>;
  const shots = join(packageRoot(), '.tmp');

  before(async () => {
    const tmp = await tempDir('mlscale-dashboard-browser-');
    cleanup = tmp.cleanup;
    await writeModel(join(tmp.dir, 'repo'), 'digits', 1, smallModelBytes(9));
    await mkdir(shots, { recursive: true });
    served = await serveProcess([
      '--model-repository',
      join(tmp.dir, 'repo'),
      '--port',
      '0',
      '--admin-token',
      token,
      '--instances',
      '1',
      '--unready-delay-ms',
      '0',
    ]);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await stopServed(served, 10_000);
    await cleanup?.();
  });

  test('should chart the load, list the model, and unload and load it with the buttons', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1500 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${served.url}/dashboard`);
    const ok = await boundedLoad(served.url, 4, 4_000, 5_000);
    assert.ok(ok > 0, 'the load got answers');
    // Charts hold non-zero data once a sample covers the load.
    for (const chart of ['rps', 'latency', 'batches']) {
      await waitFor(
        page,
        `Number(document.querySelector('[data-chart="${chart}"]')?.getAttribute('data-max')) > 0`,
        20_000,
      );
    }
    assert.equal(await page.locator('#status').textContent(), 'live');
    await page.screenshot({ path: join(shots, 'dashboard-serve.png'), fullPage: true });

    assert.equal(await page.locator('tr[data-model="digits"] td').first().textContent(), 'digits');
    assert.equal(await modelState(page), 'READY');

    // A wrong token is refused by the repository API, and the page says so.
    await page.fill('#admin-token', 'wrong-token-value');
    await page.click('tr[data-model="digits"] button[data-action="unload"]');
    await waitFor(
      page,
      `/failed: the admin token is wrong/.test(document.getElementById('admin-message')?.textContent ?? '')`,
    );
    assert.equal(await modelState(page), 'READY');

    await page.fill('#admin-token', token);
    await page.click('tr[data-model="digits"] button[data-action="unload"]');
    await waitFor(
      page,
      `document.querySelector('tr[data-model="digits"] [data-state]')?.getAttribute('data-state') === 'UNAVAILABLE'`,
    );
    assert.notEqual(
      (await fetch(`${served.url}/v2/models/digits/ready`)).status,
      200,
      'the server reports the model not ready',
    );
    await page.screenshot({ path: join(shots, 'dashboard-serve-unloaded.png'), fullPage: true });

    await page.click('tr[data-model="digits"] button[data-action="load"]');
    await waitFor(
      page,
      `document.querySelector('tr[data-model="digits"] [data-state]')?.getAttribute('data-state') === 'READY'`,
    );
    assert.equal((await fetch(`${served.url}/v2/models/digits/ready`)).status, 200);
    // The token stays in the tab's session storage, never in the URL.
    assert.doesNotMatch(page.url(), new RegExp(token));
    assert.equal(await page.evaluate(`sessionStorage.getItem('mlscale.adminToken')`), token);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
