import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  InferenceRequestError,
  InstanceFailedError,
  QueueFullError,
  RequestTimeoutError,
  ShuttingDownError,
} from '../../../src/errors.js';
import {
  DynamicBatcher,
  type BatchInfo,
  type DynamicBatcherOptions,
} from '../../../src/serve/batcher.js';
import { signatureKey } from '../../../src/serve/protocol/split-merge.js';
import type { Tensor } from '../../../src/serve/types.js';
import { FakeRunner, type TensorWork } from './fake-runner.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** Lets queued promise callbacks run. */
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const base: DynamicBatcherOptions = {
  maxBatchSize: 4,
  maxQueueDelayMs: 0,
  maxQueue: 100,
  requestTimeoutMs: 10_000,
};

/** A request of `rows` rows of width `width`; row r of request `id` holds id*100 + r in every column. */
function work(
  id: number,
  rows = 1,
  options: { width?: number; outputs?: string[]; fail?: Error } = {},
): TensorWork {
  const width = options.width ?? 3;
  const data = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) data.fill(id * 100 + r, r * width, (r + 1) * width);
  const tensors = {
    inputs: [{ name: 'x', datatype: 'FP32' as const, shape: [rows, width], data }],
    outputs: options.outputs ?? ['double', 'sum'],
    rows,
  };
  return {
    ...tensors,
    key: signatureKey(tensors),
    ...(options.fail ? { fail: options.fail } : {}),
  };
}

/** What FakeRunner computes for `work(id, rows)` alone. */
function expected(id: number, rows = 1, width = 3): { double: number[]; sum: number[] } {
  const double: number[] = [];
  const sum: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < width; c++) double.push((id * 100 + r) * 2);
    sum.push((id * 100 + r) * width);
  }
  return { double, sum };
}

function values(t: Tensor): number[] {
  return Array.from(t.data as Float32Array);
}

describe('DynamicBatcher', () => {
  test('should merge concurrent requests up to maxBatchSize rows and split the outputs back', async () => {
    const runner = new FakeRunner();
    const batcher = new DynamicBatcher(runner, base);
    const first = batcher.submit(work(0));
    assert.equal(runner.batches.length, 1, 'an idle instance takes the first request at once');
    const rest = [1, 2, 3, 4, 5].map((id) => batcher.submit(work(id, id === 2 ? 2 : 1)));
    assert.equal(batcher.depth, 5);
    assert.equal(batcher.inFlight, 6);
    runner.batches[0]!.finish();
    await tick();
    // Requests 1, 2 (two rows) and 3 make four rows; 4 and 5 wait for the next batch.
    assert.deepEqual(
      runner.batches.map((b) => b.rows),
      [1, 4],
    );
    runner.batches[1]!.finish();
    await tick();
    runner.finishAll();
    const results = await Promise.all([first, ...rest]);
    assert.deepEqual(
      runner.batches.map((b) => b.rows),
      [1, 4, 2],
    );
    for (const [id, [double, sum]] of results.entries()) {
      const rows = id === 2 ? 2 : 1;
      assert.deepEqual(double!.shape, [rows, 3]);
      assert.deepEqual(values(double!), expected(id, rows).double, `double of request ${id}`);
      assert.deepEqual(values(sum!), expected(id, rows).sum, `sum of request ${id}`);
    }
    assert.equal(batcher.inFlight, 0);
  });

  test('should reject a request the runner answers with an error, and answer the others of its batch', async () => {
    const runner = new FakeRunner({ latencyMs: 0 });
    const infos: BatchInfo[] = [];
    const batcher = new DynamicBatcher(
      runner,
      { ...base, maxQueueDelayMs: 5 },
      { onBatch: (info) => infos.push(info) },
    );
    const bad = new InferenceRequestError('inputs[0].shape: expected [-1, 3], got [1, 4]');
    const [a, b, c] = [
      batcher.submit(work(1)),
      batcher.submit(work(2, 1, { fail: bad })),
      batcher.submit(work(3)),
    ];
    await assert.rejects(b, (err: unknown) => err === bad);
    assert.deepEqual(values((await a)[1]!), expected(1).sum);
    assert.deepEqual(values((await c)[1]!), expected(3).sum);
    assert.equal(runner.batches.length, 1, 'one batch for all three');
    assert.equal(infos[0]!.requests, 3);
    assert.equal(infos[0]!.size, 2, 'the size is the rows the runner says it ran');
  });

  test('should start a full batch at once without waiting for the delay', async () => {
    const runner = new FakeRunner({ latencyMs: 0 });
    const batcher = new DynamicBatcher(runner, { ...base, maxQueueDelayMs: 10_000 });
    const started = performance.now();
    await Promise.all([1, 2, 3, 4].map((id) => batcher.submit(work(id))));
    assert.ok(performance.now() - started < 1000);
    assert.deepEqual(
      runner.batches.map((b) => b.rows),
      [4],
    );
  });

  test('should hold a partial batch for maxQueueDelayMs, then run it', async () => {
    const runner = new FakeRunner({ latencyMs: 0 });
    const infos: BatchInfo[] = [];
    const batcher = new DynamicBatcher(
      runner,
      { ...base, maxBatchSize: 8, maxQueueDelayMs: 40 },
      { onBatch: (info) => infos.push(info) },
    );
    const started = performance.now();
    const all = Promise.all([1, 2, 3].map((id) => batcher.submit(work(id))));
    await sleep(10);
    assert.equal(runner.batches.length, 0, 'nothing runs before the delay');
    await all;
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 39, `ran after ${elapsed} ms`);
    assert.deepEqual(
      runner.batches.map((b) => b.rows),
      [3],
    );
    assert.equal(infos.length, 1);
    assert.equal(infos[0]!.requests, 3);
    assert.equal(infos[0]!.size, 3);
    assert.ok(infos[0]!.delayMs >= 39 && infos[0]!.delayMs < 1000, `delayMs ${infos[0]!.delayMs}`);
    assert.equal(infos[0]!.queueWaitMs.length, 3);
  });

  test('should not merge requests with different shapes or outputs', async () => {
    const runner = new FakeRunner();
    const batcher = new DynamicBatcher(runner, base);
    const blocker = batcher.submit(work(0));
    const requests = [
      batcher.submit(work(1)),
      batcher.submit(work(2, 1, { width: 5 })),
      batcher.submit(work(3, 1, { outputs: ['sum'] })),
      batcher.submit(work(4)),
      batcher.submit(work(5, 1, { width: 5 })),
    ];
    runner.batches[0]!.finish();
    for (let i = 0; i < 4; i++) {
      await tick();
      runner.finishAll();
    }
    await Promise.all([blocker, ...requests]);
    // Oldest first: {1, 4} share a signature, then {2, 5}, then 3.
    assert.deepEqual(
      runner.batches.slice(1).map((b) => [b.rows, b.inputs[0]!.shape[1], b.outputs.join()]),
      [
        [2, 3, 'double,sum'],
        [2, 5, 'double,sum'],
        [1, 3, 'sum'],
      ],
    );
    const [sum] = await requests[2]!;
    assert.deepEqual(values(sum!), expected(3).sum);
  });

  test('should run each request alone with maxBatchSize 0', async () => {
    const runner = new FakeRunner();
    const batcher = new DynamicBatcher(runner, { ...base, maxBatchSize: 0, maxQueueDelayMs: 50 });
    const all = [1, 2, 3].map((id) => batcher.submit(work(id, 2)));
    for (let i = 0; i < 3; i++) {
      runner.finishAll();
      await tick();
    }
    await Promise.all(all);
    assert.deepEqual(
      runner.batches.map((b) => b.rows),
      [2, 2, 2],
    );
  });

  test('should shed requests with QueueFullError once maxQueue are waiting', async () => {
    const runner = new FakeRunner();
    const batcher = new DynamicBatcher(runner, { ...base, maxQueue: 2 });
    const running = batcher.submit(work(0));
    const queued = [batcher.submit(work(1)), batcher.submit(work(2))];
    assert.equal(batcher.depth, 2);
    await assert.rejects(batcher.submit(work(3)), QueueFullError);
    assert.equal(batcher.depth, 2);
    assert.equal(batcher.stats().shed, 1);
    runner.finishAll();
    await tick();
    runner.finishAll();
    await Promise.all([running, ...queued]);
  });

  test('should remove a queued request that times out, so it never runs', async () => {
    const runner = new FakeRunner();
    const batcher = new DynamicBatcher(runner, { ...base, requestTimeoutMs: 50 });
    // The running request times out too; only the queued one matters here.
    const running = batcher.submit(work(0)).catch(() => undefined);
    const queued = batcher.submit(work(1));
    await assert.rejects(
      queued,
      (err: unknown) =>
        err instanceof RequestTimeoutError && /in the queue/.test((err as Error).message),
    );
    assert.equal(batcher.depth, 0);
    runner.finishAll();
    await running;
    await tick();
    assert.equal(runner.batches.length, 1, 'the timed-out request never ran');
  });

  test('should time out a running request without waiting for its batch', async () => {
    const runner = new FakeRunner();
    const batcher = new DynamicBatcher(runner, { ...base, requestTimeoutMs: 30 });
    await assert.rejects(
      batcher.submit(work(0)),
      (err: unknown) =>
        err instanceof RequestTimeoutError && /while its batch ran/.test((err as Error).message),
    );
    assert.equal(batcher.inFlight, 0);
    runner.finishAll();
    await batcher.close({ drain: true });
  });

  test('should remove a queued request whose signal aborts', async () => {
    const runner = new FakeRunner();
    const batcher = new DynamicBatcher(runner, base);
    const running = batcher.submit(work(0));
    const controller = new AbortController();
    const queued = batcher.submit(work(1), controller.signal);
    const kept = batcher.submit(work(2));
    controller.abort();
    await assert.rejects(queued, (err: unknown) => (err as Error).name === 'AbortError');
    assert.equal(batcher.depth, 1);
    runner.finishAll();
    await tick();
    runner.finishAll();
    await Promise.all([running, kept]);
    assert.deepEqual(
      runner.batches.map((b) => b.rows),
      [1, 1],
    );
    assert.deepEqual(
      values(runner.batches[1]!.inputs[0]!),
      Array.from(work(2).inputs[0]!.data as Float32Array),
    );
  });

  test('should reject a request whose signal is already aborted', async () => {
    const batcher = new DynamicBatcher(new FakeRunner(), base);
    await assert.rejects(
      batcher.submit(work(1), AbortSignal.abort()),
      (err: unknown) => (err as Error).name === 'AbortError',
    );
    assert.equal(batcher.inFlight, 0);
  });

  test('should reject exactly the requests of a failed batch, with InstanceFailedError', async () => {
    const runner = new FakeRunner({ instances: 2 });
    const batcher = new DynamicBatcher(runner, { ...base, maxBatchSize: 2 });
    const a = assert.rejects(
      batcher.submit(work(1)),
      (err: unknown) =>
        err instanceof InstanceFailedError && /onnxruntime exploded/.test((err as Error).message),
    );
    const b = batcher.submit(work(2));
    const blocked = [batcher.submit(work(3)), batcher.submit(work(4))].map((p) =>
      assert.rejects(p, InstanceFailedError),
    );
    const later = [batcher.submit(work(5)), batcher.submit(work(6))];
    runner.batches[0]!.fail(new Error('onnxruntime exploded'));
    await tick();
    assert.equal(runner.batches.length, 3);
    assert.equal(runner.batches[2]!.rows, 2, 'requests 3 and 4 merged on the freed instance');
    runner.batches[2]!.fail(new Error('again'));
    runner.batches[1]!.finish();
    await tick();
    runner.finishAll();
    await a;
    await Promise.all(blocked);
    await b;
    await Promise.all(later);
    assert.equal(batcher.stats().failedBatches, 2);
  });

  test('should fail every request of a batch the runner rejects, with InstanceFailedError', async () => {
    const runner = new FakeRunner();
    const batcher = new DynamicBatcher(runner, { ...base, maxQueueDelayMs: 20 });
    // A scalar output cannot be split by rows: the fake runner's whole batch fails.
    const all = [1, 2].map((id) =>
      assert.rejects(
        batcher.submit(work(id, 1, { outputs: ['scalar'] })),
        (err: unknown) =>
          err instanceof InstanceFailedError &&
          /failed to run the batch: splitRows/.test((err as Error).message),
      ),
    );
    await sleep(30);
    runner.finishAll();
    await Promise.all(all);
  });

  test('should finish queued work on close({ drain: true }) without holding batches open', async () => {
    const runner = new FakeRunner({ latencyMs: 1 });
    const batcher = new DynamicBatcher(runner, {
      ...base,
      maxBatchSize: 8,
      maxQueueDelayMs: 60_000,
    });
    const all = [1, 2, 3].map((id) => batcher.submit(work(id)));
    await batcher.close({ drain: true });
    const results = await Promise.all(all);
    assert.deepEqual(values(results[2]![0]!), expected(3).double);
    await assert.rejects(batcher.submit(work(4)), ShuttingDownError);
  });

  test('should reject queued work with ShuttingDownError on close({ drain: false })', async () => {
    const runner = new FakeRunner();
    const batcher = new DynamicBatcher(runner, base);
    const running = batcher.submit(work(0));
    const queued = [batcher.submit(work(1)), batcher.submit(work(2))].map((p) =>
      assert.rejects(p, ShuttingDownError),
    );
    const closed = batcher.close({ drain: false });
    await Promise.all(queued);
    runner.finishAll();
    await running;
    await closed;
    assert.equal(runner.batches.length, 1);
    assert.equal(batcher.depth, 0);
  });

  test('should learn a batch cost and report it with maxQueueDelayMs auto', async () => {
    const runner = new FakeRunner({ latencyMs: 1 });
    const infos: BatchInfo[] = [];
    const batcher = new DynamicBatcher(
      runner,
      { ...base, maxBatchSize: 16, maxQueueDelayMs: 'auto' },
      { onBatch: (info) => infos.push(info) },
    );
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all(
        Array.from({ length: 1 + round * 3 }, (_, i) => batcher.submit(work(i))),
      );
      assert.deepEqual(values(results.at(-1)![1]!), expected(results.length - 1).sum);
    }
    const stats = batcher.stats();
    assert.ok(stats.cost, 'a fitted cost after a few batches');
    assert.ok(stats.cost.fixedMs >= 0 && stats.cost.perRowMs >= 0);
    assert.ok(infos.at(-1)!.cost);
    await batcher.close({ drain: true });
  });

  test('should hold batches open for a closed loop of clients and report the arrival rate seen during holds', async () => {
    const runner = new FakeRunner({ latencyMs: 4 });
    const infos: BatchInfo[] = [];
    const batcher = new DynamicBatcher(
      runner,
      { ...base, maxBatchSize: 32, maxQueueDelayMs: 'auto' },
      { onBatch: (info) => infos.push(info) },
    );
    // 16 clients, each sending its next request 0-3 ms after it has its answer (a spread of
    // client think times, as over a network: answers that all come back in one instant would be
    // resubmitted before a hold begins, and no hold would see an arrival), 30 requests each.
    const client = async (id: number): Promise<void> => {
      for (let i = 0; i < 30; i++) {
        const [, sum] = await batcher.submit(work(id));
        assert.deepEqual(values(sum!), expected(id).sum);
        await (id % 4 === 0 ? tick() : sleep(id % 4));
      }
    };
    // Whether a given hold catches a client's next request depends on timer order; a loop of
    // 480 requests holds many times, and up to five loops make a run without one vanishingly rare.
    let loops = 0;
    do {
      await Promise.all(Array.from({ length: 16 }, (_, id) => client(id)));
      loops++;
    } while (batcher.stats().holdArrivalIntervalMs === undefined && loops < 5);
    const held = infos.filter((info) => info.delayMs > 0);
    assert.ok(held.length > 0, 'some batches were held open for the rest of the loop');
    const stats = batcher.stats();
    assert.ok(
      stats.holdArrivalIntervalMs !== undefined &&
        stats.holdArrivalIntervalMs > 0 &&
        Number.isFinite(stats.holdArrivalIntervalMs),
    );
    assert.equal(
      infos.reduce((n, info) => n + info.size, 0),
      loops * 16 * 30,
    );
    await batcher.close({ drain: true });
  });

  test('should reject invalid options with the option path and the value given', () => {
    const runner = new FakeRunner();
    assert.throws(
      () => new DynamicBatcher(runner, { ...base, maxBatchSize: -1 }),
      /options\.maxBatchSize must be an integer >= 0, got -1/,
    );
    assert.throws(
      () => new DynamicBatcher(runner, { ...base, maxQueue: 0 }),
      /options\.maxQueue must be an integer >= 1, got 0/,
    );
    assert.throws(
      () => new DynamicBatcher(runner, { ...base, maxQueueDelayMs: -2 }),
      /options\.maxQueueDelayMs must be a non-negative number of milliseconds or "auto", got -2/,
    );
    assert.throws(() => new DynamicBatcher(runner, { ...base, requestTimeoutMs: 0 }), TypeError);
  });
});
