/**
 * The serve dashboard's fleet view in a browser, fed a made-up fleet through the routes' data
 * source: replicas and instances over time, and the autoscaler's decisions in their table (model
 * names and reasons shown as text, never as markup).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { dashboardRoutes, type DashboardSource } from '../../src/dashboard/routes.js';
import type {
  ActivitySnapshot,
  DashboardDecision,
  DashboardSample,
} from '../../src/dashboard/types.js';
import { packageRoot } from '../../src/util/package-root.js';
import { browserSkipReason, launchBrowser } from './browser.js';

/** 60 samples ending now: 1 replica, then 2 after a scale-up, then 3 instances per replica. */
function fleet(): ActivitySnapshot {
  const now = Date.now();
  const samples: DashboardSample[] = [];
  for (let i = 59; i >= 0; i--) {
    const replicas = i > 40 ? 1 : 2;
    const perReplica = i > 20 ? 1 : 2;
    samples.push({
      t: now - i * 1000,
      rps: 200 + 10 * (60 - i),
      p50Ms: 4,
      p99Ms: 20,
      errors: 0,
      shed: i === 42 ? 15 : 0,
      queueDepth: i > 40 ? 30 : 2,
      inFlight: 8,
      meanBatch: 6,
      instances: replicas * perReplica,
      replicas,
    });
  }
  const decisions: DashboardDecision[] = [
    {
      t: now - 40_500,
      action: 'scale-up',
      from: { replicas: 1, instancesPerReplica: 1 },
      to: { replicas: 2, instancesPerReplica: 1 },
      signal: 'ongoing 30.0 (30.0 per replica), queue 30, CPU idle 2%',
      reason: 'ongoing above target <b>for</b> 3000 ms',
    },
    {
      t: now - 20_500,
      action: 'add-instance',
      from: { replicas: 2, instancesPerReplica: 1 },
      to: { replicas: 2, instancesPerReplica: 2 },
      signal: 'ongoing 8.0 (4.0 per replica), queue 2, CPU idle 40%',
      reason: 'CPU idle while queues held',
    },
  ];
  return {
    intervalMs: 1000,
    mode: 'replicas',
    samples,
    batchSizes: [
      { le: '4', count: 10 },
      { le: '8', count: 30 },
      { le: '+Inf', count: 0 },
    ],
    decisions,
  };
}

describe('serve dashboard fleet view in a browser', { skip: browserSkipReason() }, () => {
  let app: FastifyInstance;
  let url: string;

  before(async () => {
    const snapshot = fleet();
    const source: DashboardSource = {
      activity: async (since) => ({
        ...snapshot,
        samples: snapshot.samples.filter((s) => s.t > since),
      }),
      models: async () => [
        { name: '<img src=x onerror=alert(1)>', version: '3', state: 'READY', reason: '' },
      ],
      admin: () => ({
        enabled: false,
        tokenRequired: false,
        why: 'the repository API is turned off (--no-repository-api)',
      }),
    };
    app = Fastify();
    await app.register(dashboardRoutes, { source });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => app?.close());

  test('should chart replicas and instances, list the decisions, and show names as text', async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1500 } });
      const dialogs: string[] = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      await page.goto(`${url}/dashboard`);
      await page.waitForFunction(
        `Number(document.querySelector('[data-chart="fleet"]')?.getAttribute('data-max')) === 4`,
        undefined,
        { timeout: 10_000 },
      );
      const rows = page.locator('#decisions tr');
      assert.equal(await rows.count(), 3, 'a header and two decisions');
      // Newest first.
      assert.match(
        (await rows.nth(1).textContent()) ?? '',
        /add-instance.*2 → 2.*1 → 2.*CPU idle 40%/,
      );
      assert.match((await rows.nth(2).textContent()) ?? '', /scale-up.*1 → 2.*<b>for<\/b> 3000 ms/);
      assert.equal(
        await page.locator('#models-table td').first().textContent(),
        '<img src=x onerror=alert(1)>',
      );
      assert.equal(await page.locator('#models img').count(), 0);
      assert.match((await page.locator('#admin').textContent()) ?? '', /--no-repository-api/);
      assert.equal(
        await page.locator('#models button').count(),
        0,
        'no load/unload without the repository API',
      );
      await mkdir(join(packageRoot(), '.tmp'), { recursive: true });
      await page.screenshot({
        path: join(packageRoot(), '.tmp', 'dashboard-fleet.png'),
        fullPage: true,
      });
      assert.deepEqual(dialogs, []);
    } finally {
      await browser.close();
    }
  });
});
