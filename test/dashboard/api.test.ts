/**
 * The serve dashboard's HTTP side, as a plugin of the model server: the page and its assets (uPlot
 * from its package), the JSON snapshot, the event stream, reports served read-only without path
 * traversal, and `mlscale serve --no-dashboard`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Prng } from '../../src/model/prng.js';
import type { ModelServer } from '../../src/serve/server.js';
import { serveDashboard } from '../../src/dashboard/serve-dashboard.js';
import type { DashboardState } from '../../src/dashboard/types.js';
import { tempDir } from '../helpers.js';
import { serveProcess, stopServed } from '../serve/serve-process.js';
import {
  get,
  infer,
  inferBody,
  randomInput,
  smallModelBytes,
  startServer,
  writeModel,
} from '../serve/server/server-fixture.js';

const token = 'dashboard-admin-token';

describe('serve dashboard API', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  let server: ModelServer;
  let url: string;

  before(async () => {
    const tmp = await tempDir('mlscale-dashboard-api-');
    cleanup = tmp.cleanup;
    root = tmp.dir;
    await writeModel(join(root, 'repo'), 'alpha', 1, smallModelBytes(3));
    await writeModel(join(root, 'repo'), 'beta', 2, smallModelBytes(4));
    await mkdir(join(root, 'reports', 'sweep-1'), { recursive: true });
    await writeFile(
      join(root, 'reports', 'sweep-1', 'report.html'),
      '<!doctype html><title>report</title>',
    );
    await writeFile(join(root, 'secret.txt'), 'not for the web');
    ({ server, url } = await startServer(
      { modelRepository: join(root, 'repo'), adminToken: token, modelOverrides: { instances: 1 } },
      { plugins: [serveDashboard({ reports: join(root, 'reports') })] },
    ));
  });
  after(async () => {
    await server?.close();
    await cleanup?.();
  });

  test('should serve the page, its scripts and uPlot from the package, with no CDN', async () => {
    const page = await get(url, '/dashboard');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /text\/html/);
    assert.doesNotMatch(page.text, /https?:\/\//, 'every asset is local');
    for (const [asset, type] of [
      ['serve.js', /javascript/],
      ['common.js', /javascript/],
      ['dashboard.css', /css/],
      ['uPlot.iife.min.js', /javascript/],
      ['uPlot.min.css', /css/],
    ] as const) {
      const answer = await get(url, `/dashboard/assets/${asset}`);
      assert.equal(answer.status, 200, asset);
      assert.match(answer.headers.get('content-type')!, type, asset);
    }
    assert.equal((await get(url, '/dashboard/assets/..%2F..%2Fpackage.json')).status, 404);
    assert.equal((await get(url, '/dashboard/assets/routes.ts')).status, 404);
  });

  test('should answer a snapshot with samples, the models and their readiness, the admin state and the reports', async () => {
    for (let i = 0; i < 5; i++)
      assert.equal((await infer(url, 'alpha', inferBody(randomInput(new Prng(i), 2)))).status, 200);
    // Two readings a second apart make the first sample.
    await new Promise((r) => setTimeout(r, 2_200));
    const state = (await get(url, '/dashboard/api/state')).json as DashboardState;
    assert.equal(state.mode, 'single');
    assert.ok(state.samples.length >= 1);
    assert.ok(
      state.samples.some((s) => s.rps > 0),
      JSON.stringify(state.samples),
    );
    assert.ok(state.batchSizes.some((b) => b.count > 0));
    assert.deepEqual(
      state.models.map((m) => [m.name, m.version, m.state]),
      [
        ['alpha', '1', 'READY'],
        ['beta', '2', 'READY'],
      ],
    );
    assert.deepEqual(state.admin, { enabled: true, tokenRequired: true });
    assert.deepEqual(
      state.reports.map((r) => [r.name, r.href]),
      [['sweep-1', '/dashboard/reports/sweep-1/report.html']],
    );
  });

  test('should stream a sample event every second', async () => {
    const controller = new AbortController();
    const res = await fetch(url + '/dashboard/api/events', { signal: controller.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const deadline = Date.now() + 5_000;
    while ((text.match(/event: sample/g) ?? []).length < 2 && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    controller.abort();
    const events = text.split('\n\n').filter((e) => e.startsWith('event: sample'));
    assert.ok(events.length >= 2, text);
    const data = JSON.parse(
      events[0]!
        .split('\n')
        .find((l) => l.startsWith('data: '))!
        .slice(6),
    );
    assert.deepEqual(Object.keys(data).sort(), [
      'batchSizes',
      'decisions',
      'intervalMs',
      'mode',
      'models',
      'now',
      'samples',
    ]);
  });

  test('should serve report files read-only and nothing outside the reports folder', async () => {
    const report = await get(url, '/dashboard/reports/sweep-1/report.html');
    assert.equal(report.status, 200);
    assert.match(report.text, /<title>report<\/title>/);
    for (const path of [
      '/dashboard/reports/..%2F/secret.txt',
      '/dashboard/reports/sweep-1/..%2F..%2Fsecret.txt',
      '/dashboard/reports/../secret.txt',
      '/dashboard/reports/sweep-1/missing.html',
    ]) {
      const answer = await get(url, path);
      assert.notEqual(answer.status, 200, path);
      assert.doesNotMatch(answer.text, /not for the web/, path);
    }
    assert.equal(
      (await fetch(url + '/dashboard/reports/sweep-1/report.html', { method: 'POST' })).status,
      404,
    );
  });

  test('should be absent with mlscale serve --no-dashboard', async () => {
    const off = await serveProcess([
      '--model-repository',
      join(root, 'repo'),
      '--port',
      '0',
      '--instances',
      '1',
      '--no-dashboard',
    ]);
    try {
      assert.equal((await get(off.url, '/v2/health/ready')).status, 200);
      assert.equal((await get(off.url, '/dashboard')).status, 404);
      assert.equal((await get(off.url, '/dashboard/api/state')).status, 404);
    } finally {
      await stopServed(off);
    }
  });

  test('should refuse a reports option that is not a folder path', () => {
    assert.throws(
      () => serveDashboard({ reports: '' }),
      /options\.reports must be a folder, got ""/,
    );
  });

  test('should offer no load/unload when the repository API is off, and say why', async () => {
    const off = await startServer(
      {
        modelRepository: join(root, 'repo'),
        repositoryApi: false,
        modelOverrides: { instances: 1 },
      },
      { plugins: [serveDashboard()] },
    );
    try {
      const state = (await get(off.url, '/dashboard/api/state')).json as DashboardState;
      assert.equal(state.admin.enabled, false);
      assert.match(state.admin.why!, /--no-repository-api/);
    } finally {
      await off.server.close();
    }
  });

  test('should close promptly with an event stream open', async () => {
    const other = await startServer(
      {
        modelRepository: join(root, 'repo'),
        gracePeriodMs: 60_000,
        modelOverrides: { instances: 1 },
      },
      { plugins: [serveDashboard()] },
    );
    const res = await fetch(other.url + '/dashboard/api/events');
    const reader = res.body!.getReader();
    await reader.read();
    const started = Date.now();
    await other.server.close();
    // An open stream must not hold the close for the whole grace period (60 s).
    assert.ok(Date.now() - started < 30_000, `close took ${Date.now() - started} ms`);
    await reader.cancel().catch(() => undefined);
  });
});
