/**
 * `InstancePool.resize()`: growing, shrinking and changing threads while batches run; a retired
 * instance finishes its batch; no run fails; bad sizes are named.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ShuttingDownError } from '../../../src/errors.js';
import { Prng } from '../../../src/model/prng.js';
import {
  InstancePool,
  kInstancePoolTestHooks,
} from '../../../src/serve/instances/instance-pool.js';
import { bytesOf, directRun, randomInput, smallModelBytes, workFor } from './model-fixture.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `count` random inputs, `concurrency` at a time, while `during` happens; checks every output against a direct session. */
async function runWhile(
  pool: InstancePool,
  bytes: Uint8Array,
  during: () => Promise<void>,
  count = 60,
  concurrency = 6,
): Promise<void> {
  const rng = new Prng(5);
  const xs = Array.from({ length: count }, (_, i) => randomInput(rng, 1 + (i % 4)));
  const expected = await directRun(bytes, xs);
  let next = 0;
  const loops = Array.from({ length: concurrency }, async () => {
    while (next < xs.length) {
      const i = next++;
      const [probabilities] = await pool.run(workFor(xs[i]!).inputs, ['probabilities']);
      assert.ok(
        bytesOf(probabilities!.data).equals(bytesOf(expected[i]!.probabilities)),
        `outputs of input ${i}`,
      );
    }
  });
  await Promise.all([...loops, during()]);
}

describe('InstancePool.resize', () => {
  const bytes = smallModelBytes(9);
  let pool: InstancePool | undefined;

  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  test('should grow and shrink while batches run, failing none', async () => {
    pool = await InstancePool.create({ modelBytes: bytes, instances: 1 });
    const p = pool;
    await runWhile(p, bytes, async () => {
      await sleep(5);
      await p.resize({ instances: 3 });
      assert.equal(p.stats().instances, 3);
      assert.ok(p.health().ready, 'ready right after growing: new instances join only once loaded');
      await sleep(5);
      await p.resize({ instances: 1 });
      assert.equal(p.stats().instances, 1);
    });
    assert.equal(p.stats().failures, 0);
    assert.equal(p.stats().restarts, 0);
    // The retired threads end once their batches are answered.
    for (let i = 0; i < 50 && p.stats().retiring > 0; i++) await sleep(20);
    assert.equal(p.stats().retiring, 0);
  });

  test('should let a removed instance finish its running batch before its thread ends', async () => {
    pool = await InstancePool.create({ modelBytes: bytes, instances: 2 });
    const hooks = pool[kInstancePoolTestHooks];
    // Both instances busy for 300 ms.
    const running = [hooks.stall({ sleepMs: 300 }), hooks.stall({ sleepMs: 300 })];
    await sleep(50);
    assert.equal(pool.stats().busy, 2);
    await pool.resize({ instances: 1 });
    const s = pool.stats();
    assert.equal(s.instances, 1);
    assert.equal(s.retiring, 1, 'the removed instance is still finishing its batch');
    await Promise.all(running); // neither batch is dropped
    for (let i = 0; i < 50 && pool.stats().retiring > 0; i++) await sleep(20);
    assert.equal(pool.stats().retiring, 0);
    assert.equal(pool.stats().failures, 0);
    const [label] = await pool.run(workFor(randomInput(new Prng(1), 2)).inputs, ['label']);
    assert.equal(label!.shape[0], 2);
  });

  test('should replace every instance with new intra-op threads while batches run', async () => {
    pool = await InstancePool.create({ modelBytes: bytes, instances: 2, intraOpThreads: 1 });
    const p = pool;
    await runWhile(p, bytes, async () => {
      await sleep(5);
      await p.resize({ instances: 1, intraOpThreads: 2 });
      assert.deepEqual([p.stats().instances, p.stats().intraOpThreads], [1, 2]);
      await p.resize({ instances: 2, intraOpThreads: 1 });
      assert.deepEqual([p.stats().instances, p.stats().intraOpThreads], [2, 1]);
    });
    assert.equal(p.stats().failures, 0);
  });

  test("should close after a resize, waiting for a retiring instance's batch", async () => {
    pool = await InstancePool.create({ modelBytes: bytes, instances: 2 });
    const hooks = pool[kInstancePoolTestHooks];
    const running = [hooks.stall({ sleepMs: 200 }), hooks.stall({ sleepMs: 200 })];
    await sleep(30);
    await pool.resize({ instances: 1 });
    await pool.close();
    await Promise.all(running);
    assert.equal(pool.stats().retiring, 0);
  });

  test('should reject sizes that are not positive integers, and any resize after close', async () => {
    pool = await InstancePool.create({ modelBytes: bytes, instances: 1 });
    await assert.rejects(
      pool.resize({ instances: 0 }),
      (e: Error) =>
        e instanceof TypeError &&
        /size\.instances must be a positive integer, got 0/.test(e.message),
    );
    await assert.rejects(
      pool.resize({ instances: 2, intraOpThreads: 1.5 }),
      /size\.intraOpThreads must be a positive integer, got 1\.5/,
    );
    await pool.close();
    await assert.rejects(
      pool.resize({ instances: 2 }),
      (e: unknown) => e instanceof ShuttingDownError,
    );
  });
});
