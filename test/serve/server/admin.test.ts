/**
 * The repository API's guards: the admin token (401), `repositoryApi: false` (403), and model names
 * that try to leave the repository (404, nothing read outside).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Prng } from '../../../src/model/prng.js';
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

const token = 'correct-horse-battery-staple';
const adminCalls = [
  ['index', '/v2/repository/index'],
  ['unload', '/v2/repository/models/m/unload'],
  ['load', '/v2/repository/models/m/load'],
] as const;

describe('mlscale serve: repository API security', () => {
  let root: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-serve-admin-');
    cleanup = tmp.cleanup;
    root = tmp.dir;
    await writeModel(join(root, 'repo'), 'm', 1, smallModelBytes(41));
    // A valid model just outside the repository: a path-traversing name must not reach it.
    await writeModel(root, 'outside', 1, smallModelBytes(42));
  });

  after(async () => cleanup?.());

  describe('with an admin token', () => {
    let server: ModelServer;
    let url: string;

    before(async () => {
      ({ server, url } = await startServer({
        modelRepository: join(root, 'repo'),
        adminToken: token,
        modelOverrides: { instances: 1 },
      }));
    });
    after(async () => server?.close());

    for (const [what, path] of adminCalls) {
      test(`${what} without a token, with a wrong one or another scheme is 401`, async () => {
        assertError(
          await post(url, path),
          401,
          /needs an "Authorization: Bearer <admin token>" header/,
        );
        assertError(
          await post(url, path, undefined, { authorization: `Bearer ${token}x` }),
          401,
          /the admin token is wrong/,
        );
        assertError(
          await post(url, path, undefined, { authorization: `Bearer ${token.slice(1)}` }),
          401,
          /the admin token is wrong/,
        );
        assertError(
          await post(url, path, undefined, {
            authorization: `Basic ${Buffer.from(`admin:${token}`).toString('base64')}`,
          }),
          401,
          /Bearer/,
        );
        assertError(await post(url, path, undefined, { authorization: token }), 401, /Bearer/);
      });
    }

    test('index, unload and load with the token are 200', async () => {
      const auth = { authorization: `Bearer ${token}` };
      for (const [what, path] of adminCalls) {
        const answer = await post(url, path, undefined, auth);
        assert.equal(answer.status, 200, `${what}: ${answer.text}`);
      }
      assert.equal((await get(url, '/v2/models/m/ready')).status, 200);
    });

    test('inference, health and metadata need no token', async () => {
      assert.equal((await get(url, '/v2/health/ready')).status, 200);
      assert.equal((await get(url, '/v2/models/m')).status, 200);
      assert.equal((await infer(url, 'm', inferBody(randomInput(new Prng(1), 1)))).status, 200);
    });

    test('a repository path that does not exist is still refused without the token', async () => {
      assertError(await post(url, '/v2/repository/models/ghost/load'), 401, /Bearer/);
    });
  });

  describe('with the repository API turned off', () => {
    let server: ModelServer;
    let url: string;

    before(async () => {
      ({ server, url } = await startServer({
        modelRepository: join(root, 'repo'),
        repositoryApi: false,
        adminToken: token,
        modelOverrides: { instances: 1 },
      }));
    });
    after(async () => server?.close());

    test('index, load and unload are 403, even with the token', async () => {
      for (const [, path] of adminCalls) {
        assertError(
          await post(url, path),
          403,
          /the model repository API is turned off \(--no-repository-api\)/,
        );
        assertError(
          await post(url, path, undefined, { authorization: `Bearer ${token}` }),
          403,
          /turned off/,
        );
      }
      assert.equal(
        (await get(url, '/v2/models/m/ready')).status,
        200,
        'the model was not unloaded',
      );
    });

    test('GET /v2 does not list the model_repository extension', async () => {
      assert.deepEqual((await get(url, '/v2')).json.extensions, [
        'binary_tensor_data',
        'statistics',
        'model_configuration',
      ]);
    });
  });

  describe('model names that try to leave the repository', () => {
    let server: ModelServer;
    let url: string;

    before(async () => {
      await mkdir(join(root, 'repo', 'empty'));
      ({ server, url } = await startServer({
        modelRepository: join(root, 'repo'),
        modelOverrides: { instances: 1 },
      }));
    });
    after(async () => server?.close());

    const names = [
      '..%2F..%2Fetc',
      '..%2Foutside',
      '%2e%2e%2Foutside',
      '..',
      '.hidden',
      '%2Fetc%2Fpasswd',
      'm%2F..%2F..%2Foutside',
      'm%00',
    ];
    for (const name of names) {
      test(`"${name}" is 404 everywhere, and nothing outside is loaded`, async () => {
        const answers = [
          await get(url, `/v2/models/${name}`),
          await get(url, `/v2/models/${name}/ready`),
          await get(url, `/v2/models/${name}/versions/1`),
          await get(url, `/v2/models/${name}/stats`),
          await infer(url, name, inferBody(randomInput(new Prng(2), 1))),
          await post(url, `/v2/repository/models/${name}/load`),
          await post(url, `/v2/repository/models/${name}/unload`),
        ];
        for (const answer of answers) {
          assert.equal(answer.status, 404, answer.text);
          assert.deepEqual(Object.keys(answer.json), ['error']);
        }
        const index = await post(url, '/v2/repository/index');
        assert.deepEqual(
          index.json.map((e: { name: string }) => e.name),
          ['empty', 'm'],
        );
      });
    }

    test('a model folder with no versions is reported as such, not loaded', async () => {
      assertError(await post(url, '/v2/repository/models/empty/load'), 400, /no version folders/);
      // It was never served; readiness names it (a repository whose folder is broken needs fixing).
      const ready = await get(url, '/v2/health/ready');
      assert.equal(ready.status, 400);
      assert.match(ready.json.reason, /"empty"/);
    });
  });
});
