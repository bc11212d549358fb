import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { withRunProgress } from '../../src/pipeline/progress-report.js';
import type { RunProgressReport } from '../../src/pipeline/executors/executor.js';
import { redisCheckpoints } from '../../src/pipeline/executors/bullmq/checkpoints.js';
import { resolveBullmqOptions } from '../../src/pipeline/executors/bullmq/options.js';
import {
  payloadClient,
  parseRedisUrl,
} from '../../src/pipeline/executors/bullmq/redis-connection.js';
import { startsKey } from '../../src/pipeline/executors/bullmq/protocol.js';
import { BullmqRuns } from '../../src/pipeline/executors/bullmq/runs.js';
import { runSummary } from '../../src/dashboard/redis-runs.js';
import { dropPrefix, testPrefix, testRedis, type TestRedis } from '../redis-helpers.js';

type P = {
  phase: 'fit' | 'train' | 'evaluate';
  done: number;
  total?: number;
  epoch?: number;
  round?: number;
};

describe('withRunProgress (run-wide progress from the first phase)', () => {
  test('should report the fit phase with no total, then the run total once batches are counted', () => {
    const seen: P[] = [];
    const reports: RunProgressReport[] = [];
    const report = withRunProgress<P>(
      (p) => seen.push(p),
      (r) => reports.push(r),
      () => 1,
    );
    report({ phase: 'fit', done: 4 });
    report({ phase: 'fit', done: 10 });
    report({ phase: 'train', done: 5, total: 30, epoch: 1, round: 1 });
    report({ phase: 'train', done: 30, total: 30, epoch: 3, round: 6 });
    report({ phase: 'evaluate', done: 10, total: 10 });
    assert.equal(seen.length, 5, 'the caller still gets every report');
    assert.deepEqual(
      reports.map((r) => [r.phase, r.done, r.total, r.runDone, r.runTotal]),
      [
        ['fit', 4, undefined, 4, undefined],
        ['fit', 10, undefined, 10, undefined],
        ['train', 5, 30, 15, 50],
        ['train', 30, 30, 40, 50],
        ['evaluate', 10, 10, 50, 50],
      ],
    );
    assert.equal(reports[2]!.epoch, 1);
    assert.equal(reports[3]!.rounds, 6);
  });

  test('should hand back the callback itself when nobody listens', () => {
    const cb = () => undefined;
    assert.equal(withRunProgress(cb, undefined), cb);
  });
});

describe('bullmq progress for the dashboard', () => {
  let redis: TestRedis;
  let prefix: string;
  before(async () => {
    redis = await testRedis();
    prefix = testPrefix('progress');
  });
  after(async () => {
    if (redis.url) await dropPrefix(redis.url, prefix);
    await redis.stop();
  });

  test('should show a run in its fit phase, then with its total, and forget it when cleared', async (t) => {
    if (redis.url === undefined) return t.skip(redis.skip);
    const options = resolveBullmqOptions({ redis: redis.url, prefix, run: 'progress-run' });
    const client = payloadClient(options.target, 'progress-test');
    const runs = new BullmqRuns(parseRedisUrl(redis.url), prefix);
    try {
      await client.set(startsKey(prefix, 'progress-run'), '1');
      const store = redisCheckpoints(async () => client, options);
      const listed = async () => (await runs.listRuns()).find((r) => r.run === 'progress-run');
      const settle = async (check: (r: ReturnType<typeof runSummary>) => boolean) => {
        for (let i = 0; i < 100; i++) {
          const r = await listed();
          if (r && check(runSummary(r))) return runSummary(r);
          await new Promise((res) => setTimeout(res, 20));
        }
        assert.fail('the report never arrived');
      };
      store.reportProgress!({ phase: 'fit', done: 8, runDone: 8, at: 1 });
      const fit = await settle((r) => r.progress?.phase === 'fit');
      assert.deepEqual(fit.progress, {
        phase: 'fit',
        done: 8,
        total: null,
        runDone: 8,
        runTotal: null,
        epoch: 0,
        rounds: 0,
      });
      store.reportProgress!({
        phase: 'train',
        done: 4,
        total: 24,
        runDone: 16,
        runTotal: 40,
        epoch: 1,
        rounds: 1,
        at: 2,
      });
      const train = await settle((r) => r.progress?.phase === 'train');
      assert.equal(train.progress?.runTotal, 40);
      assert.equal(train.progress?.runDone, 16);
      await store.clear();
      assert.equal(await listed(), undefined);
    } finally {
      await runs.close();
      client.disconnect();
    }
  });
});
