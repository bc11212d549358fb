/**
 * Overload: a slow model with one instance and a short queue sheds the excess with 503 and
 * Retry-After, stays live, and recovers; a request past its time budget gets 504.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../../src/model/prng.js';
import type { ModelServer } from '../../../src/serve/server.js';
import { tempDir } from '../../helpers.js';
import {
  assertError,
  get,
  infer,
  inferBody,
  metricValue,
  randomInput,
  scrape,
  slowModelBytes,
  startServer,
  writeModel,
} from './server-fixture.js';

describe('mlscale serve: overload', () => {
  let repo: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-serve-overload-');
    cleanup = tmp.cleanup;
    repo = tmp.dir;
    // Roughly 0.1 s a run on an idle core; more on a loaded machine.
    await writeModel(repo, 'slow', 1, slowModelBytes(512, 40));
  });

  after(async () => cleanup?.());

  describe('a full queue', () => {
    let server: ModelServer;
    let url: string;

    before(async () => {
      // No batching, so every request waits in the queue for its own run.
      ({ server, url } = await startServer({
        modelRepository: repo,
        modelOverrides: { instances: 1, maxQueue: 2, maxBatchSize: 0, maxQueueDelayMs: 0 },
      }));
    });
    after(async () => server?.close());

    test('sheds the excess with 503, Retry-After and {"error"}; stays live; recovers', async () => {
      const x = randomInput(new Prng(1), 1);
      const burst = Array.from({ length: 12 }, () => infer(url, 'slow', inferBody(x)));

      // The HTTP thread is free while the instance computes: liveness answers at once.
      const started = performance.now();
      const live = await get(url, '/v2/health/live');
      const liveMs = performance.now() - started;
      assert.equal(live.status, 200);
      assert.ok(liveMs < 2000, `liveness took ${liveMs.toFixed(0)} ms during the burst`);

      const answers = await Promise.all(burst);
      const shed = answers.filter((a) => a.status === 503);
      const served = answers.filter((a) => a.status === 200);
      assert.equal(
        shed.length + served.length,
        answers.length,
        answers.map((a) => `${a.status} ${a.text}`).join('\n'),
      );
      // At most one running and two queued at any moment, so most of twelve concurrent requests are shed.
      assert.ok(shed.length > 0, 'some requests were shed');
      assert.ok(
        served.length >= 3,
        `${served.length} served: the running one and the queued ones finish`,
      );
      for (const answer of shed) {
        assertError(answer, 503, /the model's queue is full \(2 requests waiting\); retry later/);
        assert.equal(answer.headers.get('retry-after'), '1');
      }

      const samples = await scrape(url);
      const labels = { model: 'slow', version: '1' };
      assert.equal(
        metricValue(samples, 'mlscale_inference_requests_total', { ...labels, outcome: 'shed' }),
        shed.length,
      );
      assert.equal(
        metricValue(samples, 'mlscale_inference_requests_total', { ...labels, outcome: 'success' }),
        served.length,
      );
      const stats = (await get(url, '/v2/models/slow/stats')).json.model_stats[0];
      assert.equal(stats.batcher.shed, shed.length);

      // Recovery: the queue is empty again and a normal request succeeds.
      const after = await infer(url, 'slow', inferBody(x));
      assert.equal(after.status, 200, after.text);
      assert.equal((await get(url, '/v2/health/ready')).status, 200);
    });
  });

  describe('a request timeout', () => {
    let server: ModelServer;
    let url: string;

    before(async () => {
      ({ server, url } = await startServer({
        modelRepository: repo,
        modelOverrides: { instances: 1, requestTimeoutMs: 20, maxQueueDelayMs: 0 },
      }));
    });
    after(async () => server?.close());

    test('a request past requestTimeoutMs gets 504 with {"error"}', async () => {
      const answer = await infer(url, 'slow', inferBody(randomInput(new Prng(2), 1)));
      assertError(answer, 504, /the request timed out after 20 ms/);
      const samples = await scrape(url);
      assert.equal(
        metricValue(samples, 'mlscale_inference_requests_total', {
          model: 'slow',
          version: '1',
          outcome: 'timeout',
        }),
        1,
      );
      assert.equal((await get(url, '/v2/health/live')).status, 200);
    });
  });
});
