/**
 * `mlscale dashboard`: runs from a runs folder made by a quick `mlscale train`, with time per batch
 * over the run; a bullmq run in progress read from Redis, then finished; reports served read-only;
 * the page in a browser; the command's flag validation.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createPipelineDashboard } from '../../src/dashboard/pipeline-app.js';
import { RedisRuns } from '../../src/dashboard/redis-runs.js';
import type { RunDetail, RunSummary } from '../../src/dashboard/runs.js';
import { parseRedisUrl } from '../../src/pipeline/executors/bullmq/redis-connection.js';
import { packageRoot } from '../../src/util/package-root.js';
import { runCli, tempDir } from '../helpers.js';
import {
  dropPrefix,
  killWorkers,
  startWorkers,
  testPrefix,
  testRedis,
  type TestRedis,
  type WorkerProcess,
} from '../redis-helpers.js';
import { browserSkipReason, launchBrowser } from './browser.js';

const train = [
  'train',
  '--data',
  'sample:digits',
  '--epochs',
  '2',
  '--batch-size',
  '300',
  '--json',
];

describe('mlscale dashboard (pipeline runs)', () => {
  let root: string;
  let runs: string;
  let cleanup: () => Promise<void>;
  let app: FastifyInstance;
  let url: string;

  before(async () => {
    const tmp = await tempDir('mlscale-dashboard-runs-');
    cleanup = tmp.cleanup;
    root = tmp.dir;
    runs = join(root, 'runs');
    const trained = await runCli([
      ...train,
      '--executor',
      'inline',
      '--out',
      join(runs, 'digits-inline'),
    ]);
    assert.equal(trained.code, 0, trained.stderr);
    await mkdir(join(root, 'reports', 'serve-sweep'), { recursive: true });
    await writeFile(
      join(root, 'reports', 'serve-sweep', 'report.html'),
      '<!doctype html><title>sweep report</title>',
    );
    await writeFile(join(root, 'secret.txt'), 'not for the web');
    app = await createPipelineDashboard({ runs, reports: join(root, 'reports') });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app?.close();
    await cleanup?.();
  });

  test('should list a finished run with its executor, size, time and final metric', async () => {
    const answer = (await (await fetch(`${url}/api/runs`)).json()) as { runs: RunSummary[] };
    assert.equal(answer.runs.length, 1);
    const run = answer.runs[0]!;
    assert.equal(run.id, 'digits-inline');
    assert.equal(run.status, 'done');
    assert.equal(run.executor, 'inline');
    assert.equal(run.rows, 1797);
    assert.equal(run.batches, 6);
    assert.equal(run.epochs, 2);
    assert.equal(run.metric?.name, 'accuracy');
    assert.ok(run.metric!.value > 0.5);
  });

  test("should give a run's metrics, phase and stage times, and every batch's window with its time", async () => {
    const run = (await (await fetch(`${url}/api/runs/digits-inline`)).json()) as RunDetail;
    assert.equal(typeof run.metrics['accuracy'], 'number');
    assert.deepEqual(Object.keys(run.phases!).sort(), ['evaluate', 'fit', 'train']);
    // `read` is the part of preprocess that got each batch (from the file or the cache).
    assert.deepEqual(Object.keys(run.stages!).sort(), ['evaluate', 'preprocess', 'read', 'train']);
    assert.ok(run.stages!['read']! <= run.stages!['preprocess']!);
    const batchesBy = (phase: string) =>
      run.windows.filter((w) => w[0] === phase).reduce((s, w) => s + w[3], 0);
    // 6 batches: fitted once, trained in each of 2 epochs, evaluated once.
    assert.equal(batchesBy('fit'), 6);
    assert.equal(batchesBy('train'), 12);
    assert.equal(batchesBy('evaluate'), 6);
    for (const [, start, ms] of run.windows) assert.ok(start >= 0 && ms >= 0);
    assert.equal(run.epochLoss.length, 2);
  });

  test('should answer 404 for a run that does not exist or a name that leaves the folder', async () => {
    for (const id of ['nope', '..', '..%2F..%2Fetc', '.hidden']) {
      const res = await fetch(`${url}/api/runs/${id}`);
      assert.equal(res.status, 404, id);
      const { error } = (await res.json()) as { error: string };
      assert.equal(typeof error, 'string');
      // A visitor learns nothing of the machine's folders.
      assert.ok(!error.includes(root), error);
    }
  });

  test('should list the reports and serve them read-only, nothing outside the folder', async () => {
    const reports = (await (await fetch(`${url}/api/reports`)).json()) as {
      name: string;
      href: string;
    }[];
    assert.deepEqual(
      reports.map((r) => [r.name, r.href]),
      [['serve-sweep', '/reports/serve-sweep/report.html']],
    );
    const report = await fetch(url + reports[0]!.href);
    assert.equal(report.status, 200);
    assert.match(await report.text(), /sweep report/);
    for (const path of [
      '/reports/..%2F/secret.txt',
      '/reports/serve-sweep/..%2F..%2Fsecret.txt',
      '/reports/%2e%2e/secret.txt',
    ]) {
      const res = await fetch(url + path);
      assert.notEqual(res.status, 200, path);
      const text = await res.text();
      assert.doesNotMatch(text, /not for the web/);
      assert.ok(!text.includes(root), text);
    }
    const missing = await fetch(`${url}/reports/serve-sweep/nope.html`);
    assert.equal(missing.status, 404);
    const { error } = (await missing.json()) as { error: string };
    assert.match(error, /^no report file serve-sweep\/nope\.html in the reports folder$/);
  });

  describe('in a browser', { skip: browserSkipReason() }, () => {
    test("should list the runs and show a run's time per batch and metrics", async () => {
      const browser = await launchBrowser();
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        await page.goto(`${url}/`);
        await page.waitForSelector('tr[data-run="digits-inline"]', { timeout: 10_000 });
        assert.match(
          (await page.locator('tr[data-run="digits-inline"]').textContent()) ?? '',
          /done.*inline.*accuracy 0\.\d{4}/,
        );
        assert.equal(await page.locator('#reports a').textContent(), 'serve-sweep');
        await page.click('tr[data-run="digits-inline"] a');
        await page.waitForSelector('[data-metric="accuracy"]', { timeout: 10_000 });
        await page.waitForFunction(
          `Number(document.querySelector('[data-chart="batch-time"]')?.getAttribute('data-max')) > 0`,
          undefined,
          { timeout: 10_000 },
        );
        assert.equal(await page.locator('#list-view').isVisible(), false);
        await mkdir(join(packageRoot(), '.tmp'), { recursive: true });
        await page.screenshot({
          path: join(packageRoot(), '.tmp', 'dashboard-run.png'),
          fullPage: true,
        });
        assert.deepEqual(errors, []);
      } finally {
        await browser.close();
      }
    });
  });

  describe('with bullmq runs on Redis', () => {
    let redis: TestRedis;
    let prefix: string;
    let workers: WorkerProcess[] = [];
    let redisRuns: RedisRuns | undefined;

    before(async () => {
      redis = await testRedis();
      prefix = testPrefix('dashboard');
    });
    after(async () => {
      await killWorkers(workers);
      await redisRuns?.close();
      if (redis.url) await dropPrefix(redis.url, prefix);
      await redis.stop();
    });

    test('should show a distributed run in progress with its workers, then as finished in the runs folder', async (t) => {
      const redisUrl = redis.url;
      if (redisUrl === undefined) return t.skip(redis.skip);
      redisRuns = new RedisRuns(parseRedisUrl(redisUrl), prefix);
      const withRedis = await createPipelineDashboard({
        runs,
        reports: join(root, 'reports'),
        redisRuns,
      });
      const base = await withRedis.listen({ host: '127.0.0.1', port: 0 });
      const driver = spawn(
        process.execPath,
        [
          join(packageRoot(), 'bin', 'mlscale.js'),
          ...train,
          '--executor',
          'bullmq',
          '--redis',
          redisUrl,
          '--prefix',
          prefix,
          '--out',
          join(runs, 'digits-bullmq'),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      driver.stdout.on('data', (d: Buffer) => (output += d));
      driver.stderr.on('data', (d: Buffer) => (output += d));
      const exited = new Promise<number | null>((resolve) =>
        driver.once('exit', (code) => resolve(code)),
      );
      try {
        const runsNow = async () =>
          ((await (await fetch(`${base}/api/runs`)).json()) as { runs: RunSummary[] }).runs;
        // No worker yet: the run waits in the queue, and the dashboard shows it running with none.
        let live: RunSummary | undefined;
        for (let i = 0; i < 100 && !live; i++) {
          live = (await runsNow()).find((r) => r.source === 'redis');
          if (!live) await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(live, `the run appears from Redis; driver said: ${output}`);
        assert.equal(live.status, 'running');
        assert.equal(live.executor, 'bullmq');
        assert.equal(live.workersConnected, 0);
        assert.equal(live.failed, 0);
        // The run reaches Redis before its line reaches this end of the driver's pipe: wait for it.
        const said = new RegExp(`bullmq run ${live.id}`);
        for (let i = 0; i < 100 && !said.test(output); i++)
          await new Promise((r) => setTimeout(r, 50));
        assert.match(output, said);

        workers = await startWorkers(redisUrl, prefix, 1);
        let seenWorker = false;
        const deadline = Date.now() + 60_000;
        while (driver.exitCode === null && Date.now() < deadline) {
          const r = (await runsNow()).find((x) => x.id === live!.id);
          if (r && r.workersConnected === 1) seenWorker = true;
          await new Promise((res) => setTimeout(res, 100));
        }
        assert.equal(await exited, 0, output);
        assert.ok(seenWorker, 'the worker was counted while the run went on');
        const after = await runsNow();
        assert.equal(
          after.find((r) => r.id === live!.id),
          undefined,
          'a finished run is no longer in progress',
        );
        const done = after.find((r) => r.id === 'digits-bullmq');
        assert.equal(done?.status, 'done');
        assert.equal(done?.executor, 'bullmq');
      } finally {
        if (driver.exitCode === null) driver.kill('SIGKILL');
        await withRedis.close();
        redisRuns = undefined;
      }
    });
  });
});

describe('mlscale dashboard command', () => {
  test('should refuse bad flags with the flag, what it expects and what it got', async () => {
    const tmp = await tempDir('mlscale-dashboard-cli-');
    try {
      const file = join(tmp.dir, 'file.txt');
      await writeFile(file, 'x');
      const cases: [string[], RegExp][] = [
        [['--port', 'http'], /--port must be an integer from 0 to 65535, got "http"/],
        [['--port', '70000'], /--port must be an integer from 0 to 65535, got 70000/],
        [['--runs', file], /--runs must be a folder, got ".*file\.txt", which is a file/],
        [['--prefix', 'p'], /--prefix applies only with --redis/],
        [['--redis', 'http://127.0.0.1:6379'], /--redis/],
        [['--bogus'], /mlscale dashboard: Unknown option '--bogus'/],
      ];
      for (const [args, message] of cases) {
        const r = await runCli(['dashboard', ...args], { timeoutMs: 30_000 });
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message, args.join(' '));
        assert.match(r.stderr, /\[E_INVALID_OPTION\]/);
      }
    } finally {
      await tmp.cleanup();
    }
  });
});
