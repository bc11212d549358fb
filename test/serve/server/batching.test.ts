/**
 * Dynamic batching through the HTTP server: concurrent requests are merged into batches, and each
 * still gets bit for bit what it gets alone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../../src/model/prng.js';
import type { ModelServer } from '../../../src/serve/server.js';
import { tempDir } from '../../helpers.js';
import {
  get,
  inferBody,
  metricValue,
  randomInput,
  scrape,
  smallModelBytes,
  splitBinary,
  startServer,
  writeModel,
} from './server-fixture.js';

/** Sends one request asking for every output as binary data; returns the response's JSON header and raw tensor bytes. */
async function inferBinary(
  url: string,
  x: Float32Array,
  id: string,
): Promise<{ json: any; binary: Buffer }> {
  const response = await fetch(`${url}/v2/models/m/infer`, {
    method: 'POST',
    body: JSON.stringify(inferBody(x, { id, parameters: { binary_data_output: true } })),
    headers: { 'content-type': 'application/json' },
  });
  const body = Buffer.from(await response.arrayBuffer());
  assert.equal(response.status, 200, body.toString());
  return splitBinary(body, Number(response.headers.get('inference-header-content-length')));
}

describe('mlscale serve: dynamic batching', () => {
  let server: ModelServer;
  let url: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-serve-batching-');
    cleanup = tmp.cleanup;
    await writeModel(tmp.dir, 'm', 1, smallModelBytes(13));
    ({ server, url } = await startServer({
      modelRepository: tmp.dir,
      modelOverrides: { instances: 1, maxBatchSize: 64, maxQueueDelayMs: 5 },
    }));
  });

  after(async () => {
    await server?.close();
    await cleanup?.();
  });

  test('40 concurrent requests give bit for bit the outputs of the same requests sent one at a time', async () => {
    const rng = new Prng(2024);
    const xs = Array.from({ length: 40 }, () =>
      randomInput(rng, 1 + Math.floor(rng.nextFloat() * 3)),
    );
    const totalRows = xs.reduce((sum, x) => sum + x.length / 8, 0);

    const alone = [];
    for (const [i, x] of xs.entries()) alone.push(await inferBinary(url, x, `alone-${i}`));
    const afterAlone = (await get(url, '/v2/models/m/stats')).json.model_stats[0];
    assert.equal(
      afterAlone.execution_count,
      40,
      'one batch per request when they come one at a time',
    );

    const together = await Promise.all(xs.map((x, i) => inferBinary(url, x, `together-${i}`)));
    for (const [i, x] of xs.entries()) {
      const rows = x.length / 8;
      const a = alone[i]!;
      const t = together[i]!;
      assert.equal(t.json.id, `together-${i}`);
      assert.deepEqual(
        t.json.outputs.map((o: { name: string; shape: number[] }) => [o.name, o.shape]),
        [
          ['probabilities', [rows, 3]],
          ['label', [rows]],
        ],
      );
      assert.equal(t.binary.length, rows * 3 * 4 + rows * 8);
      assert.ok(
        t.binary.equals(a.binary),
        `request ${i} (${rows} rows): batched outputs differ from its outputs alone`,
      );
    }

    const stats = (await get(url, '/v2/models/m/stats')).json.model_stats[0];
    const batches = stats.execution_count - afterAlone.execution_count;
    assert.ok(
      batches < 40,
      `40 concurrent requests ran in ${batches} batches: some batches merged several requests`,
    );
    assert.equal(stats.inference_count, 2 * totalRows, 'every row counted once');
    assert.equal(stats.inference_stats.success.count, 80);
    const merged = stats.batch_stats.filter((b: { batch_size: number }) => b.batch_size > 1);
    assert.ok(merged.length > 0, 'some batches had more than one row');
    const rowsRun = stats.batch_stats.reduce(
      (sum: number, b: { batch_size: number; compute_infer: { count: number } }) =>
        sum + b.batch_size * b.compute_infer.count,
      0,
    );
    assert.equal(rowsRun, 2 * totalRows, 'the batches ran exactly the rows sent');

    const samples = await scrape(url);
    const labels = { model: 'm', version: '1' };
    assert.equal(
      metricValue(samples, 'mlscale_inference_batch_size_count', labels),
      stats.execution_count,
    );
    assert.equal(metricValue(samples, 'mlscale_inference_batch_size_sum', labels), 2 * totalRows);
    assert.equal(
      metricValue(samples, 'mlscale_inference_requests_total', { ...labels, outcome: 'success' }),
      80,
    );
    assert.equal(
      metricValue(samples, 'mlscale_inference_queue_duration_seconds_count', labels),
      80,
    );
    assert.equal(metricValue(samples, 'mlscale_inference_queue_depth', labels), 0);
  });
});
