import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { InvalidOptionError, RedisUnavailableError } from '../../../../src/errors.js';
import { BullmqExecutor } from '../../../../src/pipeline/executors/bullmq/bullmq-executor.js';
import {
  parseRedisUrl,
  probeRedis,
} from '../../../../src/pipeline/executors/bullmq/redis-connection.js';
import { siblingModuleUrl } from '../../../../src/util/module-url.js';
import { freePort, killWorkers, startWorkers } from '../../../redis-helpers.js';

const fixtures = siblingModuleUrl(import.meta.url, '../../../fixtures/tasks');

describe('Redis URLs', () => {
  test('should read host, port, database, user and password, and keep the password out of messages', () => {
    const t = parseRedisUrl('redis://alice:p%40ss@queue-host:6380/2');
    assert.deepEqual(
      {
        host: t.options.host,
        port: t.options.port,
        db: t.options.db,
        username: t.options.username,
        password: t.options.password,
        tls: t.options.tls,
      },
      {
        host: 'queue-host',
        port: 6380,
        db: 2,
        username: 'alice',
        password: 'p@ss',
        tls: undefined,
      },
    );
    assert.equal(t.display, 'redis://queue-host:6380/2');
    assert.equal(t.bullmq.password, 'p@ss');
  });

  test('should turn on TLS for rediss:// and default the port and database', () => {
    const t = parseRedisUrl('rediss://:secret@cache.example.com');
    assert.deepEqual(t.options.tls, { servername: 'cache.example.com' });
    assert.deepEqual(t.bullmq.tls, { servername: 'cache.example.com' });
    assert.equal(t.options.port, 6379);
    assert.equal(t.options.db, 0);
    assert.equal(t.options.password, 'secret');
  });

  test('should reject what is not a Redis URL, naming the flag', () => {
    for (const bad of ['queue-host:6379', 'http://queue-host', 'redis://queue-host/zero']) {
      assert.throws(
        () => parseRedisUrl(bad),
        (err: unknown) =>
          err instanceof InvalidOptionError && /options\.redis/.test((err as Error).message),
        bad,
      );
    }
  });
});

const hasServer = spawnSync('redis-server', ['--version']).status === 0;

describe('a Redis with a password', { skip: !hasServer && 'needs redis-server on PATH' }, () => {
  const state: { port?: number; server?: ReturnType<typeof spawn> } = {};
  after(() => state.server?.kill('SIGKILL'));

  test(
    'should say the password is wrong, and run batches with the right one',
    { timeout: 60_000 },
    async () => {
      state.port = await freePort();
      state.server = spawn(
        'redis-server',
        [
          '--port',
          String(state.port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--requirepass',
          's3cret',
        ],
        { stdio: 'ignore' },
      );
      state.server.unref();
      const good = `redis://:s3cret@127.0.0.1:${state.port}`;
      for (let i = 0; i < 50; i++) {
        try {
          await probeRedis(parseRedisUrl(good), 500);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await assert.rejects(
        probeRedis(parseRedisUrl(`redis://:wrong@127.0.0.1:${state.port}`), 2000),
        (err: unknown) =>
          err instanceof RedisUnavailableError &&
          /WRONGPASS|invalid username-password/i.test((err as Error).message) &&
          !(err as Error).message.includes('wrong@'),
      );
      await assert.rejects(
        probeRedis(parseRedisUrl(`redis://127.0.0.1:${state.port}`), 2000),
        (err: unknown) =>
          err instanceof RedisUnavailableError && /NOAUTH/.test((err as Error).message),
      );
      const workers = await startWorkers(good, 'mlscale-test-password', 1);
      const executor = new BullmqExecutor({
        redis: good,
        prefix: 'mlscale-test-password',
        concurrency: 1,
        pollMs: 200,
      });
      try {
        assert.deepEqual(
          await executor.map({ module: fixtures, name: 'double' }, [
            { id: 0, input: { value: 4 } },
          ]),
          [{ value: 8 }],
        );
      } finally {
        await executor.close();
        await killWorkers(workers, 'SIGTERM');
      }
    },
  );
});
