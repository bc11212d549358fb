/**
 * The distributed pipeline on data at an HTTP URL: `trainModel` on the bullmq executor with real
 * `mlscale worker` processes, each reading its batches' byte ranges from a local static server
 * with Range requests, compared with inline.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BullmqExecutor } from '../../src/pipeline/executors/bullmq/bullmq-executor.js';
import type { Executor } from '../../src/pipeline/executors/executor.js';
import { writeTabularFiles } from './tabular-files.js';
import { watchInputs } from './watch-inputs.js';
import type { TrainingOptions } from '../../src/pipeline/options.js';
import { trainModel } from '../../src/pipeline/train-model.js';
import { startStaticServer, type StaticServer } from '../data/static-server.js';
import { tempDir } from '../helpers.js';
import {
  dropPrefix,
  killWorkers,
  startWorkers,
  testPrefix,
  testRedis,
  type WorkerProcess,
} from '../redis-helpers.js';

const redis = await testRedis();
const { dir, cleanup } = await tempDir();
after(async () => {
  await cleanup();
  await redis.stop();
});
if (redis.skip) console.log(`# skipping the distributed HTTP data tests: ${redis.skip}`);

/** Trains and returns the model's bytes and metrics. */
async function train(name: string, options: Partial<TrainingOptions>, executor?: Executor) {
  const out = join(dir, name);
  const trained = await trainModel({ ...options, out }, executor ? { executor } : {});
  return {
    bytes: await readFile(join(out, 'model.onnx')),
    metrics: trained.result.metrics,
    loss: trained.result.epochLoss,
  };
}

describe('distributed pipeline on data at an HTTP URL', { skip: redis.skip }, () => {
  const url = redis.url!;
  const prefix = testPrefix('http');
  let server: StaticServer;
  let workers: WorkerProcess[] = [];
  before(async () => {
    await writeTabularFiles(dir);
    server = await startStaticServer(dir);
  });
  after(async () => {
    await killWorkers(workers);
    await server?.close();
    await dropPrefix(url, prefix);
  });

  test(
    'should send batches of a URL as byte ranges that workers read with Range requests, and train the same model as inline',
    { timeout: 120_000 },
    async () => {
      workers = await startWorkers(url, prefix, 2);
      for (const file of ['tabular.csv', 'tabular.jsonl']) {
        const data = `${server.origin}/${file}`;
        const options: Partial<TrainingOptions> = {
          data,
          label: 'y',
          batchSize: 150,
          syncEvery: 3,
          epochs: 2,
          hidden: [8],
        };
        const inline = await train(`inline-${file}`, { ...options, executor: 'inline' });
        const executor = new BullmqExecutor({ redis: url, prefix, concurrency: 2, pollMs: 200 });
        const seen = { ranges: 0, rows: 0 };
        server.requests.length = 0;
        let remote: Awaited<ReturnType<typeof train>>;
        try {
          remote = await train(
            `bullmq-${file}`,
            { ...options, executor: 'bullmq', redis: url, prefix },
            watchInputs(executor, seen),
          );
        } finally {
          await executor.close();
        }
        assert.ok(remote.bytes.equals(inline.bytes), `${file}: model.onnx differs from inline`);
        assert.deepEqual(remote.metrics, inline.metrics);
        assert.deepEqual(remote.loss, inline.loss);
        assert.deepEqual(
          { ranges: seen.ranges > 0, rows: seen.rows },
          { ranges: true, rows: 0 },
          `${file}: sent rows, not byte ranges`,
        );
        assert.ok(
          server.requests.some((r) =>
            new RegExp(`^GET /${file.replace('.', '\\.')} bytes=\\d+-\\d+$`).test(r),
          ),
          `${file}: the workers made no Range request`,
        );
      }
    },
  );
});
