/**
 * The model repository under traffic: a new version loaded while requests run drops none of them;
 * unload and load; a model that fails to load is reported, and the others keep serving.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Prng } from '../../../src/model/prng.js';
import type { ModelServer } from '../../../src/serve/server.js';
import { tempDir } from '../../helpers.js';
import { bytesOf, directRun } from '../instances/model-fixture.js';
import {
  type Answer,
  assertError,
  float32Bytes,
  get,
  infer,
  inferBody,
  outputOf,
  post,
  randomInput,
  sleep,
  smallModelBytes,
  startServer,
  writeModel,
} from './server-fixture.js';

describe('mlscale serve: model repository under traffic', () => {
  const v1 = smallModelBytes(31);
  const v2 = smallModelBytes(32);
  let repo: string;
  let server: ModelServer;
  let url: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-serve-repository-');
    cleanup = tmp.cleanup;
    repo = tmp.dir;
    await writeModel(repo, 'm', 1, v1);
    await writeModel(repo, 'broken', 1, Buffer.from('this is not an ONNX model'));
    ({ server, url } = await startServer({
      modelRepository: repo,
      modelOverrides: { instances: 1, maxQueueDelayMs: 2 },
    }));
  });

  after(async () => {
    await server?.close();
    await cleanup?.();
  });

  test('a model that failed to load is not ready, with the reason; the server is not ready; the others serve', async () => {
    const ready = await get(url, '/v2/health/ready');
    assert.equal(ready.status, 400, ready.text);
    assert.equal(ready.json.ready, false);
    assert.match(
      ready.json.reason,
      /model "broken" version 1 is UNAVAILABLE: broken version 1: .*onnxruntime cannot load the model/,
    );

    const modelReady = await get(url, '/v2/models/broken/ready');
    assert.equal(modelReady.status, 400, modelReady.text);
    assert.equal(modelReady.json.ready, false);
    assert.match(modelReady.json.reason, /onnxruntime cannot load the model/);

    assertError(
      await infer(url, 'broken', inferBody(randomInput(new Prng(1), 1))),
      503,
      /model "broken" is not ready: .*onnxruntime cannot load the model/,
    );
    assertError(await get(url, '/v2/models/broken'), 503, /not ready/);

    const index = await post(url, '/v2/repository/index');
    const entry = index.json.find((e: { name: string }) => e.name === 'broken');
    assert.equal(entry.state, 'UNAVAILABLE');
    assert.match(entry.reason, /onnxruntime cannot load the model/);

    assertError(
      await post(url, '/v2/repository/models/broken/load'),
      400,
      /broken version 1: .*onnxruntime cannot load the model/,
    );

    assert.equal((await get(url, '/v2/models/m/ready')).status, 200);
    const answer = await infer(url, 'm', inferBody(randomInput(new Prng(2), 2)));
    assert.equal(answer.status, 200, answer.text);
  });

  test('fixing the broken model and loading it makes the server ready', async () => {
    await writeFile(join(repo, 'broken', '1', 'model.onnx'), smallModelBytes(33));
    const load = await post(url, '/v2/repository/models/broken/load');
    assert.equal(load.status, 200, load.text);
    assert.equal((await get(url, '/v2/models/broken/ready')).status, 200);
    assert.deepEqual((await get(url, '/v2/health/ready')).json, { ready: true });
    assert.equal((await infer(url, 'broken', inferBody(randomInput(new Prng(3), 1)))).status, 200);
  });

  test('loading version 2 while requests run drops none; once loaded, every answer is version 2', async () => {
    const x = randomInput(new Prng(4), 2);
    const [expected1, expected2] = [(await directRun(v1, [x]))[0]!, (await directRun(v2, [x]))[0]!];
    assert.ok(
      !bytesOf(expected1.probabilities).equals(bytesOf(expected2.probabilities)),
      'the versions must differ',
    );

    const answers: { answer: Answer; sentAfterLoad: boolean }[] = [];
    let loaded = false;
    let stop = false;
    const client = async (): Promise<void> => {
      while (!stop) {
        const sentAfterLoad = loaded;
        answers.push({ answer: await infer(url, 'm', inferBody(x)), sentAfterLoad });
      }
    };
    const clients = Array.from({ length: 6 }, client);
    try {
      await sleep(100);
      await writeModel(repo, 'm', 2, v2);
      const load = await post(url, '/v2/repository/models/m/load');
      assert.equal(load.status, 200, load.text);
      loaded = true;
      await sleep(150);
    } finally {
      stop = true;
      await Promise.all(clients);
    }

    const failed = answers.filter((a) => a.answer.status !== 200);
    assert.deepEqual(
      failed.map((a) => `${a.answer.status} ${a.answer.text}`),
      [],
      'no request failed',
    );
    const versions = answers.map((a) => a.answer.json.model_version);
    assert.ok(
      versions.includes('1') && versions.includes('2'),
      `both versions answered: ${new Set(versions).size}`,
    );
    const afterLoad = answers.filter((a) => a.sentAfterLoad);
    assert.ok(afterLoad.length > 0);
    for (const { answer } of answers) {
      const expected = answer.json.model_version === '1' ? expected1 : expected2;
      assert.ok(
        float32Bytes(outputOf(answer.json, 'probabilities').data).equals(
          bytesOf(expected.probabilities),
        ),
        `version ${answer.json.model_version} answered with its own weights`,
      );
    }
    for (const { answer } of afterLoad)
      assert.equal(
        answer.json.model_version,
        '2',
        'requests sent after the load answer get version 2',
      );

    assert.deepEqual((await get(url, '/v2/models/m')).json.versions, ['2']);
    assertError(
      await get(url, '/v2/models/m/versions/1'),
      404,
      /no version "1"; loaded versions: 2/,
    );
    const index = await post(url, '/v2/repository/index');
    assert.deepEqual(
      index.json.find((e: { name: string }) => e.name === 'm'),
      { name: 'm', version: '2', state: 'READY', reason: '' },
    );
  });

  test('unload makes inference fail with 404 until load brings the model back', async () => {
    const x = randomInput(new Prng(5), 1);
    const unload = await post(url, '/v2/repository/models/m/unload');
    assert.equal(unload.status, 200, unload.text);
    assertError(await infer(url, 'm', inferBody(x)), 404, /unknown model "m"/);
    assertError(await get(url, '/v2/models/m/ready'), 404, /unknown model "m"/);
    assertError(await post(url, '/v2/repository/models/m/unload'), 404, /model "m" is not loaded/);
    assert.equal(
      (await get(url, '/v2/health/ready')).status,
      200,
      'the models still loaded are ready',
    );

    const load = await post(url, '/v2/repository/models/m/load');
    assert.equal(load.status, 200, load.text);
    const answer = await infer(url, 'm', inferBody(x));
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.model_version, '2');
  });

  test('unloading while requests run lets the accepted ones finish', async () => {
    const x = randomInput(new Prng(6), 3);
    const inFlight = Array.from({ length: 8 }, () => infer(url, 'm', inferBody(x)));
    await sleep(5);
    const unload = await post(url, '/v2/repository/models/m/unload');
    assert.equal(unload.status, 200, unload.text);
    for (const answer of await Promise.all(inFlight)) {
      // Each was either accepted before the unload (answered) or arrived after it (404).
      assert.ok(answer.status === 200 || answer.status === 404, `${answer.status} ${answer.text}`);
    }
    assert.equal((await post(url, '/v2/repository/models/m/load')).status, 200);
  });
});
