/**
 * Repository changes that must leave a consistent picture: a newer version that fails to load is
 * reported in the index beside the version still serving; the model name the statistics route
 * shadows is refused with its reason; loads and unloads of one name run one at a time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../../src/model/prng.js';
import { ModelRepository } from '../../../src/serve/repository.js';
import type { ServedModel } from '../../../src/serve/served-model.js';
import type { ModelServer } from '../../../src/serve/server.js';
import { tempDir } from '../../helpers.js';
import {
  assertError,
  get,
  infer,
  inferBody,
  post,
  randomInput,
  smallModelBytes,
  startServer,
  writeModel,
} from './server-fixture.js';

describe('mlscale serve: repository index and load/unload order', () => {
  let repo: string;
  let server: ModelServer;
  let url: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-serve-repository-changes-');
    cleanup = tmp.cleanup;
    repo = tmp.dir;
    await writeModel(repo, 'm', 1, smallModelBytes(41));
    await writeModel(repo, 'stats', 1, smallModelBytes(42));
    ({ server, url } = await startServer({
      modelRepository: repo,
      modelOverrides: { instances: 1, maxQueueDelayMs: 1 },
    }));
  });

  after(async () => {
    await server?.close();
    await cleanup?.();
  });

  test('should list a newer version that failed to load as UNAVAILABLE with its reason while the older one serves', async () => {
    await writeModel(repo, 'm', 2, Buffer.from('not an ONNX model'));
    const load = await post(url, '/v2/repository/models/m/load');
    assertError(load, 400, /m version 2: .*onnxruntime cannot load the model/);

    const index = await post(url, '/v2/repository/index');
    const rows = index.json.filter((e: { name: string }) => e.name === 'm');
    assert.equal(rows.length, 2, JSON.stringify(rows));
    assert.deepEqual(rows[0], { name: 'm', version: '1', state: 'READY', reason: '' });
    assert.equal(rows[1].version, '2');
    assert.equal(rows[1].state, 'UNAVAILABLE');
    assert.match(rows[1].reason, /onnxruntime cannot load the model/);

    const readyOnly = await post(url, '/v2/repository/index', { ready: true });
    assert.deepEqual(
      readyOnly.json
        .filter((e: { name: string }) => e.name === 'm')
        .map((e: { version: string }) => e.version),
      ['1'],
    );
    // Version 1 still answers, so the model is ready; only the reserved name keeps the server unready.
    assert.equal((await get(url, '/v2/models/m/ready')).status, 200);
    assert.equal(
      (await infer(url, 'm', inferBody(randomInput(new Prng(1), 1)))).json.model_version,
      '1',
    );
    const ready = await get(url, '/v2/health/ready');
    assert.doesNotMatch(ready.json.reason ?? '', /model "m"/);
  });

  test('should clear the failed row once a newer version loads', async () => {
    await writeModel(repo, 'm', 2, smallModelBytes(43));
    assert.equal((await post(url, '/v2/repository/models/m/load')).status, 200);
    const index = await post(url, '/v2/repository/index');
    assert.deepEqual(
      index.json.filter((e: { name: string }) => e.name === 'm'),
      [{ name: 'm', version: '2', state: 'READY', reason: '' }],
    );
  });

  test('should refuse a model named "stats", whose metadata GET /v2/models/stats would shadow, with the reason in the index', async () => {
    const index = await post(url, '/v2/repository/index');
    const row = index.json.find((e: { name: string }) => e.name === 'stats');
    assert.equal(row.state, 'UNAVAILABLE');
    assert.match(
      row.reason,
      /model name "stats" is reserved: GET \/v2\/models\/stats lists every model's statistics/,
    );
    assertError(await post(url, '/v2/repository/models/stats/load'), 400, /is reserved/);

    // The statistics route answers for every model, as the protocol says.
    const all = await get(url, '/v2/models/stats');
    assert.equal(all.status, 200, all.text);
    assert.ok(Array.isArray(all.json.model_stats));
    assert.ok(all.json.model_stats.some((s: { name: string }) => s.name === 'm'));
    // The per-model statistics path is /v2/models/{name}/stats.
    const one = await get(url, '/v2/models/m/stats');
    assert.equal(one.json.model_stats[0].name, 'm');
    assert.equal(
      (await get(url, '/v2/health/ready')).status,
      400,
      'a refused model keeps the server unready, as a failed load does',
    );
    assert.equal(
      (await post(url, '/v2/repository/models/stats/unload')).status,
      200,
      'the refusal can be cleared by unloading',
    );
    assert.equal((await get(url, '/v2/health/ready')).status, 200);
  });

  test('should leave no state behind a refused load of a reserved name: readiness stays 200', async () => {
    assert.equal((await get(url, '/v2/health/ready')).status, 200);
    for (const name of ['stats', 'stats']) {
      assertError(await post(url, `/v2/repository/models/${name}/load`), 400, /is reserved/);
      const ready = await get(url, '/v2/health/ready');
      assert.equal(ready.status, 200, ready.text);
    }
    const index = await post(url, '/v2/repository/index');
    const rows = index.json.filter((e: { name: string }) => e.name === 'stats');
    assert.deepEqual(rows, [{ name: 'stats', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    assertError(await post(url, '/v2/repository/models/stats/unload'), 404, /not loaded/);
  });
});

describe('ModelRepository: loads and unloads of one name', () => {
  test('should run them one at a time, leaving one entry and no orphaned copy', async () => {
    const tmp = await tempDir('mlscale-serve-repository-race-');
    const repository = new ModelRepository(
      { kind: 'repository', root: tmp.dir },
      { instances: 1, intraOpThreads: 1 },
    );
    const loaded: ServedModel[] = [];
    try {
      await writeModel(tmp.dir, 'm', 1, smallModelBytes(44));
      loaded.push(await repository.load('m'));
      // An unload, and loads queued before and after it finishes: each used to find a different
      // slot once the unload dropped the first, so two loads ran at once.
      const unload = repository.unload('m');
      const first = repository.load('m');
      await unload;
      const second = repository.load('m');
      const third = repository.load('m');
      loaded.push(...(await Promise.all([first, second, third])));

      const entries = repository.index();
      assert.deepEqual(entries, [{ name: 'm', version: '1', state: 'READY', reason: '' }]);
      assert.equal(repository.models().length, 1);
      const current = repository.get('m');
      assert.equal(current, loaded.at(-1), 'the last load serves');
      for (const model of loaded.slice(0, -1)) {
        assert.equal(
          model.health().state,
          'UNLOADING',
          'every earlier copy is retired, none left running unseen',
        );
      }
    } finally {
      await repository.close({ drain: false });
      await Promise.all(loaded.map((m) => m.close({ drain: false })));
      await tmp.cleanup();
    }
  });

  test('should refuse an unload queued behind another unload once the model is gone', async () => {
    const tmp = await tempDir('mlscale-serve-repository-race-');
    const repository = new ModelRepository(
      { kind: 'repository', root: tmp.dir },
      { instances: 1, intraOpThreads: 1 },
    );
    try {
      await writeModel(tmp.dir, 'm', 1, smallModelBytes(45));
      await repository.load('m');
      const results = await Promise.allSettled([repository.unload('m'), repository.unload('m')]);
      assert.equal(results[0]!.status, 'fulfilled');
      assert.equal(results[1]!.status, 'rejected');
      assert.match(String((results[1] as PromiseRejectedResult).reason), /model "m" is not loaded/);
      assert.deepEqual(repository.index(), []);
    } finally {
      await repository.close({ drain: false });
      await tmp.cleanup();
    }
  });
});
