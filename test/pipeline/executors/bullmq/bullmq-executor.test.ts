import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  InvalidOptionError,
  RedisUnavailableError,
  TaskFailedError,
} from '../../../../src/errors.js';
import { BullmqExecutor } from '../../../../src/pipeline/executors/bullmq/bullmq-executor.js';
import { createExecutor } from '../../../../src/pipeline/executors/index.js';
import { splitShared } from '../../../../src/pipeline/executors/bullmq/protocol.js';
import {
  dropPrefix,
  freePort,
  killWorkers,
  startWorkers,
  testPrefix,
  testRedis,
  type WorkerProcess,
} from '../../../redis-helpers.js';
import { runExecutorCases } from '../executor.cases.js';
import { siblingModuleUrl } from '../../../../src/util/module-url.js';

const fixtures = siblingModuleUrl(import.meta.url, '../../../fixtures/tasks');

const redis = await testRedis();
after(() => redis.stop());
if (redis.skip) console.log(`# skipping the bullmq executor tests: ${redis.skip}`);

describe('bullmq executor', { skip: redis.skip }, () => {
  const prefix = testPrefix('conformance');
  let workers: WorkerProcess[] = [];
  before(async () => {
    // One worker process with two threads: 'several threads at once' sees two thread ids.
    workers = await startWorkers(redis.url!, prefix, 1, ['--concurrency', '2', '--threads', '2']);
  });
  after(async () => {
    await killWorkers(workers, 'SIGTERM');
    await dropPrefix(redis.url!, prefix);
  });
  runExecutorCases({
    name: 'bullmq',
    create: () =>
      new BullmqExecutor({
        redis: redis.url!,
        prefix,
        concurrency: 2,
        attempts: 2,
        backoffMs: 10,
        pollMs: 200,
      }),
  });

  test('should fail a batch whose thread dies, after its attempts, and run the next batches on a fresh thread', async () => {
    const executor = new BullmqExecutor({
      redis: redis.url!,
      prefix,
      concurrency: 2,
      attempts: 2,
      backoffMs: 10,
      pollMs: 200,
    });
    try {
      await assert.rejects(
        executor.map({ module: fixtures, name: 'exitThread' }, [{ id: 3, input: {} }]),
        (err: unknown) => {
          assert.ok(err instanceof TaskFailedError, String(err));
          assert.match(
            err.message,
            /batch 3: Error: worker thread failed: the thread exited with code 3 \(worker [^)]+\) \(after 2 attempts\)/,
          );
          return true;
        },
      );
      const out = await executor.map<{ value: number }, { value: number }>(
        { module: fixtures, name: 'double' },
        [0, 1, 2, 3].map((id) => ({ id, input: { value: id } })),
      );
      assert.deepEqual(
        out.map((o) => o.value),
        [0, 2, 4, 6],
      );
    } finally {
      await executor.close();
    }
  });

  test('should send what every call of a round shares once, and give each task the whole input', async () => {
    const executor = new BullmqExecutor({ redis: redis.url!, prefix, concurrency: 2, pollMs: 200 });
    try {
      // `data` is the same object in every call (as a round's weights are): it travels once.
      const data = Float32Array.from({ length: 40_000 }, (_, i) => i / 3);
      const calls = [0, 1, 2, 3].map((id) => ({ id, input: { data, id } }));
      const out = await executor.map<
        { data: Float32Array; id: number },
        { sum: number; doubled: Float32Array }
      >({ module: fixtures, name: 'sumAndDouble' }, calls);
      for (const o of out)
        assert.deepEqual(
          o.doubled,
          data.map((v) => v * 2),
        );
    } finally {
      await executor.close();
    }
  });

  test('should carry inputs and outputs larger than a job holds through the round hashes, binary', async () => {
    const executor = new BullmqExecutor({ redis: redis.url!, prefix, concurrency: 2, pollMs: 200 });
    try {
      // 160 KB each way, past kInlinePayloadBytes: the input and the output go through Redis hashes.
      const data = Float32Array.from({ length: 40_000 }, (_, i) => i / 7);
      const small = Float32Array.from([1, 2, 3]);
      const out = await executor.map<
        { data: Float32Array },
        { sum: number; doubled: Float32Array }
      >({ module: fixtures, name: 'sumAndDouble' }, [
        { id: 5, input: { data } },
        { id: 6, input: { data: small } },
      ]);
      assert.ok(out[0]!.doubled instanceof Float32Array);
      assert.deepEqual(
        out[0]!.doubled,
        data.map((v) => v * 2),
      );
      assert.deepEqual([...out[1]!.doubled], [2, 4, 6]);
    } finally {
      await executor.close();
    }
  });
});

describe('bullmq executor: what a round shares', () => {
  test('should share only the properties that are the same object in every input', () => {
    const weights = [new Float32Array([1, 2])];
    const schema = { label: 'y' };
    const { shared, own } = splitShared([
      { schema, weights, ref: { id: 0 }, seed: 7 },
      { schema, weights, ref: { id: 1 }, seed: 7 },
    ]);
    assert.deepEqual(shared, { schema, weights });
    assert.equal(shared!.weights, weights);
    assert.deepEqual(own, [
      { ref: { id: 0 }, seed: 7 },
      { ref: { id: 1 }, seed: 7 },
    ]);
  });

  test('should not split a round of one call, inputs that are not plain objects, or inputs with nothing in common', () => {
    const schema = { label: 'y' };
    assert.equal(splitShared([{ schema }]).shared, undefined);
    assert.equal(splitShared([[schema], [schema]]).shared, undefined);
    assert.equal(
      splitShared([{ a: { x: 1 } }, { a: { x: 1 } }]).shared,
      undefined,
      'equal but not the same object',
    );
    assert.equal(splitShared([{ schema }, { other: schema }]).shared, undefined);
  });
});

describe('bullmq executor options and connection', () => {
  test('should need --redis and a redis:// or rediss:// URL', () => {
    assert.throws(
      () => createExecutor('bullmq'),
      (err: unknown) => err instanceof InvalidOptionError && /--redis/.test((err as Error).message),
    );
    assert.throws(
      () => new BullmqExecutor({ redis: 'http://localhost:6379' }),
      /must start with redis:\/\/ or rediss:\/\//,
    );
    assert.throws(() => new BullmqExecutor({ redis: 'not a url' }), InvalidOptionError);
  });

  test('should fail within seconds, naming the URL, when Redis does not answer', async () => {
    const port = await freePort();
    const executor = new BullmqExecutor({
      redis: `redis://user:secret@127.0.0.1:${port}`,
      connectTimeoutMs: 2000,
    });
    const t0 = Date.now();
    await assert.rejects(
      executor.map({ module: 'file:///nowhere.js', name: 'x' }, [{ id: 0, input: {} }]),
      (err: unknown) =>
        err instanceof RedisUnavailableError &&
        err.message.includes(`127.0.0.1:${port}`) &&
        !err.message.includes('secret') &&
        /ECONNREFUSED/.test(err.message),
    );
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    await executor.close();
  });

  test('should fail within seconds when the host does not exist', async () => {
    const executor = new BullmqExecutor({
      redis: 'redis://no-such-host.invalid:6379',
      connectTimeoutMs: 2000,
    });
    const t0 = Date.now();
    await assert.rejects(
      executor.map({ module: 'file:///nowhere.js', name: 'x' }, [{ id: 0, input: {} }]),
      RedisUnavailableError,
    );
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
    await executor.close();
  });
});
