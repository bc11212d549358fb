import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InstanceFailedError, ModelLoadError, ShuttingDownError } from '../../../src/errors.js';
import { Prng } from '../../../src/model/prng.js';
import {
  InstancePool,
  kInstancePoolTestHooks,
} from '../../../src/serve/instances/instance-pool.js';
import type { InstancePoolOptions } from '../../../src/serve/instances/pool-options.js';
import {
  kAnswerBadRequest,
  kAnswerBinary,
  packBytes,
  packedItem,
} from '../../../src/serve/instances/messages.js';
import { tempDir } from '../../helpers.js';
import {
  bytesOf,
  directRun,
  kFeatures,
  randomInput,
  smallModelBytes,
  workFor,
} from './model-fixture.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('InstancePool', () => {
  const bytes = smallModelBytes();
  let pool: InstancePool;

  before(async () => {
    pool = await InstancePool.create({ modelBytes: bytes, instances: 2 });
  });

  after(async () => {
    await pool.close();
  });

  test('should report the model signature with -1 for the batch dimension', () => {
    assert.deepEqual(pool.signature(), {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, kFeatures] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
        { name: 'label', datatype: 'INT64', shape: [-1] },
      ],
      batchable: true,
    });
  });

  test('should give bit-for-bit the outputs of a direct onnxruntime session', async () => {
    const rng = new Prng(11);
    const xs = [randomInput(rng, 1), randomInput(rng, 5), randomInput(rng, 64)];
    const expected = await directRun(bytes, xs);
    for (const [i, x] of xs.entries()) {
      const [probabilities, label] = await pool.run(workFor(x).inputs, ['probabilities', 'label']);
      assert.deepEqual(probabilities!.shape, [x.length / kFeatures, 3]);
      assert.ok(
        bytesOf(probabilities!.data).equals(bytesOf(expected[i]!.probabilities)),
        `probabilities of input ${i}`,
      );
      assert.ok(bytesOf(label!.data).equals(bytesOf(expected[i]!.label)), `labels of input ${i}`);
    }
  });

  test('should return only the requested outputs, in the requested order', async () => {
    const outputs = await pool.run(workFor(randomInput(new Prng(3), 2)).inputs, [
      'label',
      'probabilities',
    ]);
    assert.deepEqual(
      outputs.map((t) => [t.name, t.datatype]),
      [
        ['label', 'INT64'],
        ['probabilities', 'FP32'],
      ],
    );
    assert.ok(outputs[0]!.data instanceof BigInt64Array);
  });

  test('should transfer whole input buffers and copy views of larger buffers', async () => {
    const whole = randomInput(new Prng(4), 2);
    const backing = new Float32Array(kFeatures * 4);
    const view = backing.subarray(kFeatures, kFeatures * 3);
    await pool.run(
      [{ name: 'x', datatype: 'FP32', shape: [2, kFeatures], data: whole }],
      ['label'],
    );
    await pool.run([{ name: 'x', datatype: 'FP32', shape: [2, kFeatures], data: view }], ['label']);
    assert.equal(whole.length, 0, 'a whole buffer moves to the worker');
    assert.equal(view.length, 2 * kFeatures, 'a view stays usable');
    assert.equal(backing.length, 4 * kFeatures);
  });

  test('should reject with InstanceFailedError when onnxruntime fails to run', async () => {
    const bad = [
      {
        name: 'x',
        datatype: 'FP32' as const,
        shape: [1, kFeatures + 1],
        data: new Float32Array(kFeatures + 1),
      },
    ];
    await assert.rejects(
      pool.run(bad, ['label']),
      (err: unknown) =>
        err instanceof InstanceFailedError && /onnxruntime failed/.test((err as Error).message),
    );
    assert.ok(pool.health().ready, 'a failed run does not make the pool unhealthy');
  });

  test('should answer a batch of raw requests bit-for-bit as onnxruntime answers each alone', async () => {
    const rng = new Prng(21);
    const xs = Array.from({ length: 40 }, (_, i) => randomInput(rng, 1 + (i % 3)));
    const expected = await directRun(bytes, xs);
    const body = (x: Float32Array): Buffer =>
      Buffer.from(
        JSON.stringify({
          inputs: [
            {
              name: 'x',
              datatype: 'FP32',
              shape: [x.length / kFeatures, kFeatures],
              data: Array.from(x),
            },
          ],
          parameters: { binary_data_output: true },
        }),
      );
    const bodies = xs.map(body);
    bodies.splice(7, 0, Buffer.from('{"inputs": []}'));
    const inferred = await pool.infer({
      modelName: 'm',
      modelVersion: '3',
      maxBatchSize: 64,
      requests: packBytes(bodies),
    });
    assert.equal(inferred.kinds.length, 41);
    assert.equal(inferred.kinds[7], kAnswerBadRequest, 'the bad request is answered alone');
    assert.match(packedItem(inferred.answers, 7).toString(), /inputs: missing input "x"/);
    assert.equal(
      inferred.runRows,
      xs.reduce((n, x) => n + x.length / kFeatures, 0),
    );
    for (const [i, want] of expected.entries()) {
      const at = i < 7 ? i : i + 1;
      assert.equal(inferred.kinds[at], kAnswerBinary);
      const answer = packedItem(inferred.answers, at);
      const headerLength = inferred.headerLengths[at]!;
      const header = JSON.parse(answer.subarray(0, headerLength).toString()) as {
        model_name: string;
        model_version: string;
        outputs: { name: string; shape: number[]; parameters: { binary_data_size: number } }[];
      };
      assert.equal(header.model_name, 'm');
      assert.equal(header.model_version, '3');
      const [probabilities, label] = header.outputs;
      assert.deepEqual(probabilities!.shape, [xs[i]!.length / kFeatures, 3]);
      const data = answer.subarray(headerLength);
      assert.ok(
        data
          .subarray(0, probabilities!.parameters.binary_data_size)
          .equals(bytesOf(want.probabilities)),
        `probabilities of request ${i}`,
      );
      assert.ok(
        data.subarray(probabilities!.parameters.binary_data_size).equals(bytesOf(want.label)),
        `labels of request ${i}`,
      );
      assert.equal(inferred.rows[at], xs[i]!.length / kFeatures);
    }
  });

  test('should take the next job once its thread has answered, before this thread has read the answer', async () => {
    const p = await InstancePool.create({ modelBytes: bytes, instances: 1 });
    try {
      const stalled = p[kInstancePoolTestHooks].stall({ sleepMs: 20 });
      assert.equal(p.idle, 0);
      // Block this thread (no event loop turn, so the answer stays unread) until the worker is done.
      const until = performance.now() + 5000;
      while (p.idle === 0 && performance.now() < until)
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      assert.equal(p.idle, 1, 'free as soon as its thread has answered');
      assert.equal(p.stats().busy, 1, 'though its answer is not read yet');
      const next = p.run(workFor(randomInput(new Prng(2), 1)).inputs, ['label']);
      await stalled;
      const [label] = await next;
      assert.equal(label!.shape[0], 1);
      assert.equal(p.stats().runs, 2);
    } finally {
      await p.close();
    }
  });

  test('should turn not ready while an instance is wedged, and ready again after', async () => {
    const wedgy = await InstancePool.create({
      modelBytes: bytes,
      instances: 1,
      wedgedAfterMs: 100,
    });
    try {
      const stalled = wedgy[kInstancePoolTestHooks].stall({ sleepMs: 700 });
      await sleep(300);
      const health = wedgy.health();
      assert.equal(health.ready, false);
      assert.match(
        health.reason ?? '',
        /instance 0 has been running one batch for .* s \(wedged after 100 ms\)/,
      );
      await stalled;
      assert.deepEqual(wedgy.health(), { ready: true });
    } finally {
      await wedgy.close();
    }
  });

  test('should reject the batch of a dead thread and replace the thread', async () => {
    const p = await InstancePool.create({ modelBytes: bytes, instances: 1 });
    try {
      await assert.rejects(
        p[kInstancePoolTestHooks].stall({ sleepMs: 10, exitCode: 7 }),
        (err: unknown) =>
          err instanceof InstanceFailedError && /exited with code 7/.test((err as Error).message),
      );
      assert.equal(p.health().ready, false);
      assert.match(p.health().reason ?? '', /instance 0 is restarting/);
      // The batch waits for the replacement instead of failing.
      const [label] = await p.run(workFor(randomInput(new Prng(5), 1)).inputs, ['label']);
      assert.equal(label!.shape[0], 1);
      assert.deepEqual(p.health(), { ready: true });
      assert.equal(p.stats().restarts, 1);
      assert.equal(p.stats().failures, 1);
    } finally {
      await p.close();
    }
  });

  test('should report a reload that passes loadTimeoutMs as the reason it is not ready, then load again', async () => {
    const p = await InstancePool.create({ modelBytes: bytes, instances: 1, loadTimeoutMs: 300 });
    try {
      const hooks = p[kInstancePoolTestHooks];
      hooks.stallLoads(20_000);
      await assert.rejects(hooks.stall({ sleepMs: 10, exitCode: 7 }), InstanceFailedError);
      while (!/still loading after 300 ms/.test(p.health().reason ?? '')) await sleep(20);
      assert.equal(p.health().ready, false);
      assert.match(
        p.health().reason!,
        /exited with code 7; reloading failed: it was still loading after 300 ms \(loadTimeoutMs\)/,
      );
      // The next attempt (after a 1 s back-off) loads normally.
      hooks.stallLoads(0);
      while (!p.health().ready) await sleep(20);
      const [label] = await p.run(workFor(randomInput(new Prng(12), 2)).inputs, ['label']);
      assert.equal(label!.data.length, 2);
    } finally {
      await p.close();
    }
  });

  test('should reject a batch that passes runTimeoutMs and replace its thread', async () => {
    const p = await InstancePool.create({ modelBytes: bytes, instances: 1, runTimeoutMs: 100 });
    try {
      const started = performance.now();
      await assert.rejects(
        p[kInstancePoolTestHooks].stall({ sleepMs: 10_000 }),
        (err: unknown) =>
          err instanceof InstanceFailedError &&
          /runTimeoutMs \(100 ms\)/.test((err as Error).message),
      );
      assert.ok(performance.now() - started < 2000);
      const [label] = await p.run(workFor(randomInput(new Prng(6), 1)).inputs, ['label']);
      assert.equal(label!.shape[0], 1);
    } finally {
      await p.close();
    }
  });

  test('should call onIdle listeners when an instance becomes free', async () => {
    const p = await InstancePool.create({ modelBytes: bytes, instances: 1 });
    try {
      let calls = 0;
      p.onIdle(() => calls++);
      const run = p.run(workFor(randomInput(new Prng(8), 1)).inputs, ['label']);
      assert.equal(p.idle, 0, 'run() takes the instance at once');
      await run;
      assert.equal(calls, 1);
      assert.equal(p.idle, 1);
    } finally {
      await p.close();
    }
  });

  test('should wait for running batches on close and reject later ones', async () => {
    const p = await InstancePool.create({ modelBytes: bytes, instances: 1 });
    const stalled = p[kInstancePoolTestHooks].stall({ sleepMs: 200 });
    const queued = p.run(workFor(randomInput(new Prng(9), 1)).inputs, ['label']);
    const closed = p.close();
    await assert.rejects(queued, ShuttingDownError);
    await stalled;
    await closed;
    await assert.rejects(
      p.run(workFor(randomInput(new Prng(9), 1)).inputs, ['label']),
      ShuttingDownError,
    );
    assert.equal(p.health().ready, false);
  });

  test('should end every thread on close so the process can exit', async () => {
    const script = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures', 'close-exits.js');
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    assert.equal(code, 0, stderr);
    assert.equal(stdout.trim(), 'closed');
  });
});

describe('InstancePool.create', () => {
  test("should reject a broken model file with ModelLoadError and onnxruntime's message", async () => {
    const { dir, cleanup } = await tempDir('mlscale-pool-');
    try {
      const path = join(dir, 'broken.onnx');
      await writeFile(path, 'this is not an onnx model');
      await assert.rejects(
        InstancePool.create({ modelPath: path, instances: 2 }),
        (err: unknown) => {
          assert.ok(err instanceof ModelLoadError);
          assert.match(
            err.message,
            /broken\.onnx: onnxruntime cannot load the model: .*protobuf parsing failed/,
          );
          return true;
        },
      );
    } finally {
      await cleanup();
    }
  });

  test('should reject a missing model file with ModelLoadError', async () => {
    await assert.rejects(
      InstancePool.create({ modelPath: '/nonexistent/model.onnx' }),
      (err: unknown) =>
        err instanceof ModelLoadError && /cannot read the model/.test((err as Error).message),
    );
  });

  test('should load a model from a path', async () => {
    const { dir, cleanup } = await tempDir('mlscale-pool-');
    try {
      const path = join(dir, 'model.onnx');
      await writeFile(path, smallModelBytes());
      const p = await InstancePool.create({ modelPath: path });
      assert.equal(p.stats().instances, 1);
      await p.close();
    } finally {
      await cleanup();
    }
  });

  test('should reject with ModelLoadError when the model does not load within loadTimeoutMs, without waiting for the thread', async () => {
    const started = performance.now();
    await assert.rejects(
      InstancePool.create({
        modelBytes: smallModelBytes(),
        loadTimeoutMs: 200,
        [kInstancePoolTestHooks]: { loadStallMs: 20_000 },
      } as InstancePoolOptions),
      (err: unknown) =>
        err instanceof ModelLoadError &&
        /still loading after 200 ms \(loadTimeoutMs\)/.test((err as Error).message),
    );
    // The stalled thread would have held create() and its close() for 20 s.
    assert.ok(
      performance.now() - started < 15_000,
      'create() rejected before the stalled load ended',
    );
  });

  test('should reject invalid options with the option path and the value given', async () => {
    const modelBytes = new Uint8Array(1);
    await assert.rejects(
      InstancePool.create({ modelBytes, instances: 0 }),
      /options\.instances must be a positive integer, got 0/,
    );
    await assert.rejects(
      InstancePool.create({ modelBytes, intraOpThreads: 1.5 }),
      /options\.intraOpThreads must be a positive integer, got 1\.5/,
    );
    await assert.rejects(
      InstancePool.create({ modelBytes, runTimeoutMs: -1 }),
      /options\.runTimeoutMs must be a non-negative integer/,
    );
    await assert.rejects(
      InstancePool.create({ modelBytes, loadTimeoutMs: 0 }),
      /options\.loadTimeoutMs must be a positive integer, got 0/,
    );
    await assert.rejects(InstancePool.create({}), TypeError);
    await assert.rejects(InstancePool.create({ modelBytes, modelPath: 'x.onnx' }), RangeError);
  });
});
