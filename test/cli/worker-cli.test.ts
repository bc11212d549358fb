import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers.js';
import {
  dropPrefix,
  freePort,
  killWorkers,
  startWorkers,
  testPrefix,
  testRedis,
} from '../redis-helpers.js';

const { dir, cleanup } = await tempDir();
const redis = await testRedis();
after(async () => {
  await cleanup();
  await redis.stop();
});
if (redis.skip)
  console.log(`# skipping the mlscale worker command tests that need Redis: ${redis.skip}`);

describe('mlscale worker and train --executor bullmq (command line)', () => {
  test('should print its help', { timeout: 60_000 }, async () => {
    const r = await runCli(['worker', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: mlscale worker --redis URL \[--concurrency N\]/);
  });

  test(
    'should refuse to start without --redis, or with a URL that is not redis://',
    { timeout: 60_000 },
    async () => {
      const none = await runCli(['worker']);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /--redis URL is required.*\[E_INVALID_OPTION\]/);
      const bad = await runCli(['worker', '--redis', 'http://127.0.0.1:6379']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /must start with redis:\/\/ or rediss:\/\//);
    },
  );

  test(
    'should refuse --threads beyond --concurrency, and start with the threads asked for',
    { timeout: 60_000 },
    async () => {
      const r = await runCli([
        'worker',
        '--redis',
        'redis://127.0.0.1:6379',
        '--concurrency',
        '2',
        '--threads',
        '3',
      ]);
      assert.equal(r.code, 2);
      assert.match(
        r.stderr,
        /--threads must be an integer from 1 to --concurrency \(2\), got 3 \[E_INVALID_OPTION\]/,
      );
      if (redis.skip) return;
      const prefix = testPrefix('threads');
      const [worker] = await startWorkers(redis.url!, prefix, 1, [
        '--concurrency',
        '4',
        '--threads',
        '1',
      ]);
      try {
        assert.match(worker!.output(), /ready: concurrency 4 on 1 thread\n/);
      } finally {
        await killWorkers([worker!], 'SIGTERM');
        await dropPrefix(redis.url!, prefix);
      }
    },
  );

  test(
    'should exit within seconds with a clear error when Redis does not answer',
    { timeout: 60_000 },
    async () => {
      const port = await freePort();
      const r = await runCli(
        ['worker', '--redis', `redis://127.0.0.1:${port}`, '--connect-timeout-ms', '2000'],
        { timeoutMs: 15_000 },
      );
      // Exit code 1, not a kill by the 15 s timer: it gave up by itself (--connect-timeout-ms).
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(
          `cannot reach Redis at redis://127\\.0\\.0\\.1:${port}/0: .*ECONNREFUSED.*\\[E_REDIS_UNAVAILABLE\\]`,
        ),
      );
    },
  );

  test(
    'should not offer --resume for a bullmq run that never reached Redis',
    { timeout: 60_000 },
    async () => {
      const port = await freePort();
      const r = await runCli(
        [
          'train',
          '--data',
          'synthetic:rows=200,features=4,classes=2',
          '--executor',
          'bullmq',
          '--redis',
          `redis://127.0.0.1:${port}`,
          '--out',
          join(dir, 'unreached'),
        ],
        { timeoutMs: 30_000 },
      );
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1/);
      assert.doesNotMatch(r.stderr, /--resume/);
    },
  );

  test('should say that --executor bullmq needs --redis', { timeout: 60_000 }, async () => {
    const r = await runCli(['train', '--executor', 'bullmq', '--out', join(dir, 'no-redis')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--redis must be the URL of the queue's Redis with --executor bullmq/);
  });

  test(
    'should say so when no worker is connected, instead of waiting silently',
    { skip: redis.skip, timeout: 60_000 },
    async () => {
      const prefix = testPrefix('noworker');
      try {
        const r = await runCli(
          [
            'train',
            '--data',
            'synthetic:rows=500,features=4,classes=2',
            '--executor',
            'bullmq',
            '--redis',
            redis.url!,
            '--prefix',
            prefix,
            '--out',
            join(dir, 'none'),
          ],
          { timeoutMs: 45_000, until: /no mlscale worker is connected/ },
        );
        assert.match(
          r.stderr,
          /no mlscale worker is connected to this Redis and prefix yet; batches wait in the queue until one starts/,
        );
      } finally {
        await dropPrefix(redis.url!, prefix);
      }
    },
  );

  test(
    'should train with mlscale train --executor bullmq --redis URL on mlscale worker processes',
    { skip: redis.skip, timeout: 60_000 },
    async () => {
      const prefix = testPrefix('cli');
      const workers = await startWorkers(redis.url!, prefix, 2);
      try {
        const out = join(dir, 'cli-bullmq');
        const data = [
          '--data',
          'synthetic:rows=2000,features=6,classes=2,seed=3',
          '--epochs',
          '2',
          '--batch-size',
          '500',
          '--json',
        ];
        const r = await runCli([
          'train',
          ...data,
          '--executor',
          'bullmq',
          '--redis',
          redis.url!,
          '--prefix',
          prefix,
          '--workers',
          '2',
          '--out',
          out,
        ]);
        assert.equal(r.code, 0, r.stderr);
        const summary = JSON.parse(r.stdout);
        const metadata = JSON.parse(await readFile(join(out, 'metadata.json'), 'utf8'));
        assert.equal(metadata.executor.kind, 'bullmq');
        // The slots asked for, and the worker processes that really ran batches (one or both).
        assert.equal(metadata.executor.slots, 2);
        assert.ok(
          metadata.executor.workers >= 1 && metadata.executor.workers <= 2,
          JSON.stringify(metadata.executor),
        );
        assert.match(
          r.stderr,
          new RegExp(
            `bullmq run ${metadata.executor.run} \\(after an interruption: --resume ${metadata.executor.run}\\)`,
          ),
        );
        const inline = await runCli([
          'train',
          ...data,
          '--executor',
          'inline',
          '--out',
          join(dir, 'cli-inline'),
        ]);
        assert.deepEqual(JSON.parse(inline.stdout).metrics, summary.metrics);
        assert.ok(
          (await readFile(join(out, 'model.onnx'))).equals(
            await readFile(join(dir, 'cli-inline', 'model.onnx')),
          ),
        );
      } finally {
        await killWorkers(workers, 'SIGTERM');
        await dropPrefix(redis.url!, prefix);
      }
    },
  );
});
