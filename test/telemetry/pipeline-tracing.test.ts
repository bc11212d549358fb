/**
 * Traces of a distributed training run (bullmq executor, one `mlscale worker` process on real
 * Redis), exported over OTLP/HTTP (JSON) to a receiver started here: a span per training round,
 * BullMQ's job spans (the bullmq-otel add-on) as the round's children in the driver, and the
 * worker process's job spans continuing the same trace. The worker inherits the OTEL_* variables.
 *
 * Skips, saying why, when neither REDIS_URL nor redis-server exists (.ci/run provides Redis).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { trainModel } from '../../src/pipeline/train-model.js';
import { tempDir } from '../helpers.js';
import {
  dropPrefix,
  killWorkers,
  startWorkers,
  testPrefix,
  testRedis,
  type WorkerProcess,
} from '../redis-helpers.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

const redis = await testRedis();
after(() => redis.stop());
if (redis.skip) console.log(`# skipping the pipeline tracing test: ${redis.skip}`);

describe('pipeline tracing over OTLP (bullmq executor)', { skip: redis.skip }, () => {
  let receiver: OtlpReceiver;
  let workers: WorkerProcess[] = [];
  let cleanup: () => Promise<void>;
  const prefix = testPrefix('tracing');

  before(async () => {
    receiver = await startOtlpReceiver();
    process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] = receiver.url;
    process.env['OTEL_EXPORTER_OTLP_PROTOCOL'] = 'http/json';
    process.env['OTEL_BSP_SCHEDULE_DELAY'] = '100';
    const tmp = await tempDir('mlscale-pipeline-tracing-');
    cleanup = tmp.cleanup;
    workers = await startWorkers(redis.url!, prefix, 1);
    await trainModel({
      data: 'synthetic:rows=1200,features=4,classes=2,seed=3',
      batchSize: 300,
      syncEvery: 2,
      epochs: 1,
      hidden: [4],
      executor: 'bullmq',
      redis: redis.url!,
      prefix,
      workers: 1,
      out: join(tmp.dir, 'model'),
    });
    // The worker exports its last spans as it stops.
    await killWorkers(workers, 'SIGTERM');
  });

  after(async () => {
    await killWorkers(workers, 'SIGKILL').catch(() => undefined);
    await dropPrefix(redis.url!, prefix);
    await receiver?.close();
    await cleanup?.();
  });

  test('train rounds, with the BullMQ jobs they queued as children, continued in the worker', () => {
    const rounds = receiver.spans.filter((s) => s.name === 'train round');
    // 4 batches, 2 per round, 1 epoch: 2 rounds.
    assert.equal(rounds.length, 2, receiver.spans.map((s) => s.name).join(', '));
    for (const round of rounds) {
      assert.equal(round.attributes['mlscale.phase'], 'train');
      assert.equal(round.attributes['mlscale.batches'], 2);
      // The driver's spans for the jobs it added in this round.
      const added = receiver.spans.filter((s) => s.parentSpanId === round.spanId);
      assert.ok(added.length >= 1, `no span under round ${round.spanId}`);
      // The worker's spans for those jobs are in the round's trace, under the driver's spans.
      const inWorker = receiver.spans.filter(
        (s) =>
          s.traceId === round.traceId &&
          s.spanId !== round.spanId &&
          !added.includes(s) &&
          added.some((a) => a.spanId === s.parentSpanId),
      );
      assert.ok(inWorker.length >= 1, `no worker span continues round ${round.spanId}'s trace`);
    }
    // The fit and evaluate windows have spans too.
    assert.ok(receiver.spans.some((s) => s.name === 'fit window'));
    assert.ok(receiver.spans.some((s) => s.name === 'evaluate window'));
  });
});
