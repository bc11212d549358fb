/**
 * The distributed worker and Redis faults: a worker whose Redis dies mid-batch exits within
 * --stop-timeout-ms of SIGTERM, non-zero (its batch runs again elsewhere); Redis URLs naming a
 * database that does not exist, or parts a Redis URL has not, are refused with a clear message.
 *
 * A private redis-server on a free loopback port (it is killed on purpose); skips, saying why,
 * without one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { BullmqExecutor } from '../../src/pipeline/executors/bullmq/bullmq-executor.js';
import { parseRedisUrl } from '../../src/pipeline/executors/bullmq/redis-connection.js';
import { freePort } from '../../src/util/free-port.js';
import { siblingModuleUrl } from '../../src/util/module-url.js';
import { runCli } from '../helpers.js';
import { startWorkers, testPrefix } from '../redis-helpers.js';
import { sleep } from '../serve/server/server-fixture.js';

const redisServer = spawnSync('redis-server', ['--version']).status === 0;
const skip = redisServer ? false : 'redis-server is not on PATH';
const fixtures = siblingModuleUrl(import.meta.url, '../fixtures/tasks');

/** Starts a private redis-server on a free port; resolves once it answers. */
async function startRedis(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  process.once('exit', () => child.kill('SIGKILL'));
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (
      spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() ===
      'PONG'
    )
      return { url, child };
    await sleep(50);
  }
  throw new Error(`redis-server on port ${port} did not answer`);
}

describe('hostile input: Redis URLs', () => {
  test('parts a Redis URL has not are refused, naming the option', () => {
    assert.throws(
      () => parseRedisUrl('redis://127.0.0.1:6379/0?password=x'),
      /options\.redis: a Redis URL takes no query or fragment/,
    );
    assert.throws(
      () => parseRedisUrl('redis://127.0.0.1:0'),
      /options\.redis: the port must be from 1 to 65535, got 0/,
    );
    assert.throws(
      () => parseRedisUrl('redis://127.0.0.1:6379/1e1'),
      /the database \(the URL's path\) must be a number, got "1e1"/,
    );
    assert.throws(
      () => parseRedisUrl('redis://127.0.0.1:6379/0x10'),
      /must be a number, got "0x10"/,
    );
  });
});

describe('hostile input: worker and Redis faults', { skip }, () => {
  let redis: { url: string; child: ChildProcess };

  before(async () => {
    redis = await startRedis();
  });
  after(() => {
    if (redis?.child.exitCode === null) redis.child.kill('SIGKILL');
  });

  test(
    'a database that does not exist is refused, not replaced by database 0',
    { timeout: 60_000 },
    async () => {
      const r = await runCli(
        ['worker', '--redis', `${redis.url}/99`, '--connect-timeout-ms', '3000'],
        { timeoutMs: 30_000 },
      );
      assert.notEqual(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        /--redis: database 99 does not exist on the Redis at redis:\/\/127\.0\.0\.1:\d+ \(it has 16: 0 to 15, its "databases" setting\)/,
      );
      assert.doesNotMatch(r.stderr, /ready: concurrency/);
    },
  );

  test(
    'a worker mid-batch when Redis dies exits 1 within --stop-timeout-ms of SIGTERM',
    { timeout: 120_000 },
    async () => {
      const prefix = testPrefix('stop');
      const [worker] = await startWorkers(redis.url, prefix, 1, [
        '--stop-timeout-ms',
        '2000',
        '--connect-timeout-ms',
        '3000',
      ]);
      const executor = new BullmqExecutor({
        redis: redis.url,
        prefix,
        concurrency: 1,
        pollMs: 100,
      });
      // A batch that runs for a minute: the worker holds it when Redis goes.
      const running = executor
        .map({ module: fixtures, name: 'sleep' }, [{ id: 0, input: { ms: 60_000, value: 1 } }])
        .catch((err: Error) => err);
      for (let i = 0; executor.activity.workers < 1 || i < 10; i++) {
        assert.ok(i < 200, 'the worker never picked the batch up');
        await sleep(100);
      }
      redis.child.kill('SIGKILL');
      await new Promise((resolve) => redis.child.once('exit', resolve));
      worker!.child.kill('SIGTERM');
      const code = await worker!.exited;
      assert.equal(code, 1, worker!.output());
      assert.match(worker!.output(), /SIGTERM: finishing the running batches, for up to 2000 ms/);
      assert.match(
        worker!.output(),
        /did not finish and report within 2000 ms \(--stop-timeout-ms; is Redis reachable\?\); exiting 1/,
      );
      await executor.close();
      await running;
    },
  );
});
