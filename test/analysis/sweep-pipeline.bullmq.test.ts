/**
 * The pipeline sweep on the bullmq executor: it starts its own `mlscale worker` processes per
 * grid point, records each point, stops every worker and removes its Redis keys at the end; an
 * unreachable Redis fails at once with E_REDIS_UNAVAILABLE.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { RedisUnavailableError } from '../../src/errors.js';
import { sweepPipeline } from '../../src/analysis/sweep-pipeline.js';
import { freePort, testPrefix, testRedis } from '../redis-helpers.js';

const redis = await testRedis();
if (redis.skip) console.log(`# skipping the bullmq pipeline sweep tests: ${redis.skip}`);

/** Pids of `mlscale worker` processes whose command line names `text` (a URL or a prefix). */
function workersOn(text: string): number[] {
  const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return ps.stdout
    .split('\n')
    .filter((line) => line.includes(' worker ') && line.includes(text))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

describe('sweepPipeline on the bullmq executor', { skip: redis.skip }, () => {
  after(async () => redis.stop());

  test('should run each grid point on its own worker processes, then stop them and remove its keys', async () => {
    const lines: string[] = [];
    const prefix = testPrefix('sweep');
    const sweep = await sweepPipeline({
      data: 'synthetic:rows=2000,features=4,classes=2,seed=5',
      batches: [2, 4],
      workers: [1, 2],
      executor: 'bullmq',
      redis: redis.url!,
      prefix,
      onProgress: (l) => lines.push(l),
    });
    assert.equal(sweep.executor, 'bullmq');
    assert.deepEqual(
      sweep.points.map((p) => [p.batches, p.workers, p.batchSize]),
      [
        [2, 1, 500],
        [2, 2, 500],
        [4, 1, 500],
        [4, 2, 500],
      ],
    );
    for (const p of sweep.points) assert.ok(p.seconds > 0);
    assert.ok(
      lines.some((l) => /\[run 4\/4\] batches=4 workers=2/.test(l)),
      lines.join('\n'),
    );
    assert.deepEqual(workersOn(prefix), []);
    const client = new Redis(redis.url!);
    try {
      const [, keys] = await client.scan('0', 'MATCH', `${prefix}:*`, 'COUNT', 100_000);
      assert.deepEqual(keys, []);
    } finally {
      client.disconnect();
    }
  });

  test('should fail at once with E_REDIS_UNAVAILABLE when Redis cannot be reached', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    await assert.rejects(
      sweepPipeline({
        data: 'synthetic:rows=200,features=2',
        batches: [2],
        workers: [1],
        executor: 'bullmq',
        redis: url,
      }),
      (err: Error) => err instanceof RedisUnavailableError,
    );
    assert.deepEqual(workersOn(url), []);
  });
});
