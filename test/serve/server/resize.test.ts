/**
 * Resizing a running server's models in place (what a replica does when its primary sends a new
 * layout): the instance and thread gauges follow, requests under load all succeed, a later load of
 * the model keeps the new size, and settings left out keep each model's own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../../src/model/prng.js';
import type { ModelServer } from '../../../src/serve/server.js';
import { tempDir } from '../../helpers.js';
import {
  infer,
  inferBody,
  metricValue,
  randomInput,
  scrape,
  smallModelBytes,
  startServer,
  writeModel,
} from './server-fixture.js';

describe('ModelRepository.resize', () => {
  let server: ModelServer;
  let url: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-resize-');
    cleanup = tmp.cleanup;
    await writeModel(tmp.dir, 'm', 1, smallModelBytes(3));
    ({ server, url } = await startServer({
      modelRepository: tmp.dir,
      modelOverrides: { instances: 1, intraOpThreads: 2 },
    }));
  });

  after(async () => {
    await server.close();
    await cleanup();
  });

  test('should resize instances and threads in place while requests run, failing none', async () => {
    const labels = { model: 'm', version: '1' };
    const body = inferBody(randomInput(new Prng(2), 2));
    let running = true;
    const statuses: number[] = [];
    const loops = Array.from({ length: 4 }, async () => {
      while (running) statuses.push((await infer(url, 'm', body)).status);
    });
    try {
      const changed = await server.repository.resize({ instances: 3, intraOpThreads: 1 });
      assert.deepEqual(
        changed.map((r) => [r.name, r.instances, r.intraOpThreads, r.changed, r.error]),
        [['m', 3, 1, true, undefined]],
      );
      let samples = await scrape(url);
      assert.equal(metricValue(samples, 'mlscale_model_instances', labels), 3);
      assert.equal(metricValue(samples, 'mlscale_model_intra_op_threads', labels), 3);
      assert.equal(server.repository.get('m').statistics().instances.intraOpThreads, 1);
      // Only instances given: threads stay what they are.
      await server.repository.resize({ instances: 2 });
      samples = await scrape(url);
      assert.equal(metricValue(samples, 'mlscale_model_instances', labels), 2);
      assert.equal(metricValue(samples, 'mlscale_model_intra_op_threads', labels), 2);
      // The same size again changes nothing.
      assert.equal(
        (await server.repository.resize({ instances: 2, intraOpThreads: 1 }))[0]!.changed,
        false,
      );
    } finally {
      running = false;
      await Promise.all(loops);
    }
    assert.ok(statuses.length > 0);
    assert.ok(
      statuses.every((s) => s === 200),
      JSON.stringify(statuses.filter((s) => s !== 200)),
    );
  });

  test('should load a new copy of the model with the size it was resized to', async () => {
    await server.repository.resize({ instances: 2, intraOpThreads: 1 });
    const reloaded = await server.repository.load('m');
    assert.equal(reloaded.settings.instances, 2);
    assert.equal(reloaded.settings.intraOpThreads, 1);
    assert.equal(reloaded.statistics().instances.instances, 2);
  });
});
