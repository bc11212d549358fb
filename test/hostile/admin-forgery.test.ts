/**
 * Cross-origin calls to the repository API: what a web page in the operator's browser could send
 * to a server on loopback (a form post, a `text/plain` fetch, a DNS-rebound host name) is refused
 * with a message saying why, the model keeps serving, and what the dashboard and curl send still
 * works. Raw sockets, so that Host and Origin are exactly what a browser would put.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { ModelServer } from '../../src/serve/server.js';
import { tempDir } from '../helpers.js';
import { get, smallModelBytes, startServer, writeModel } from '../serve/server/server-fixture.js';
import {
  addressOf,
  assertJsonError,
  assertLive,
  sendRaw,
  type RawAnswer,
} from './hostile-fixture.js';

/** A POST with exactly these headers and body, on its own connection. */
function rawPost(
  url: string,
  path: string,
  headers: Record<string, string>,
  body = '',
): Promise<RawAnswer> {
  const lines = Object.entries({
    ...headers,
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
  })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return sendRaw(url, `POST ${path} HTTP/1.1\r\n${lines}\r\n${body}`);
}

describe('hostile input: forged calls to the repository API', () => {
  let server: ModelServer;
  let url: string;
  let self: string;
  let cleanup: () => Promise<void>;
  const unload = '/v2/repository/models/m/unload';

  before(async () => {
    const tmp = await tempDir('mlscale-hostile-admin-');
    cleanup = tmp.cleanup;
    await writeModel(join(tmp.dir, 'repo'), 'm', 1, smallModelBytes(41));
    ({ server, url } = await startServer({
      modelRepository: join(tmp.dir, 'repo'),
      allowedHosts: ['models.internal'],
      modelOverrides: { instances: 1 },
    }));
    const { port } = addressOf(url);
    self = `127.0.0.1:${port}`;
  });
  after(async () => {
    await server?.close();
    await cleanup?.();
  });

  const stillServing = async (): Promise<void> => {
    const ready = await get(url, '/v2/models/m/ready');
    assert.equal(ready.status, 200, `the model still serves: ${ready.text}`);
    await assertLive(url);
  };

  test('a DNS-rebound Host with a text/plain body (the reported attack) is refused', async () => {
    const { port } = addressOf(url);
    const answer = await rawPost(url, unload, {
      host: `evil.example:${port}`,
      origin: `http://evil.example:${port}`,
      'content-type': 'text/plain',
    });
    assertJsonError(
      answer,
      403,
      /loopback name .* this one is for Host "evil\.example:\d+", as a web page using DNS rebinding would send/,
    );
    await stillServing();
  });

  test('a rebound Host with no Origin (same-origin to the browser) is refused', async () => {
    assertJsonError(
      await rawPost(url, unload, { host: 'rebind.example' }),
      403,
      /Host "rebind\.example"/,
    );
    await stillServing();
  });

  test('a cross-origin post to the loopback address is refused by its Origin', async () => {
    for (const origin of [
      'http://evil.example',
      'null',
      'http://127.0.0.1:1',
      'http://localhost',
    ]) {
      assertJsonError(
        await rawPost(
          url,
          unload,
          { host: self, origin, 'content-type': 'application/json' },
          '{}',
        ),
        403,
        /refuses cross-origin requests: Origin .* is not this server/,
      );
    }
    await stillServing();
  });

  test('a form or text/plain body is refused with 415, even same-origin', async () => {
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const answer = await rawPost(
        url,
        unload,
        { host: self, origin: `http://${self}`, 'content-type': type },
        'a=1',
      );
      assertJsonError(answer, 415, /takes a JSON body \(Content-Type: application\/json\) or none/);
      assert.equal(answer.headers['content-type']?.startsWith('application/json'), true);
    }
    // An empty body labelled text/plain is what the reported attack sent.
    assertJsonError(
      await rawPost(url, unload, { host: self, 'content-type': 'text/plain' }),
      415,
      /JSON body/,
    );
    await stillServing();
  });

  test('the index, a read, is guarded as the rest', async () => {
    assertJsonError(
      await rawPost(url, '/v2/repository/index', { host: 'evil.example' }),
      403,
      /DNS rebinding/,
    );
  });

  test("what curl and the dashboard send still works: loopback names, an allowed host, the page's own Origin", async () => {
    const { port } = addressOf(url);
    const ok = async (headers: Record<string, string>, body = ''): Promise<void> => {
      const answer = await rawPost(url, '/v2/repository/index', headers, body);
      assert.equal(answer.status, 200, `${JSON.stringify(headers)}: ${answer.body}`);
    };
    await ok({ host: self });
    await ok({ host: `localhost:${port}` });
    await ok({ host: `[::1]:${port}` });
    await ok({ host: 'models.internal' });
    await ok({ host: `MODELS.internal:${port}` });
    // The dashboard's buttons: same-origin fetch with a JSON body.
    await ok({ host: self, origin: `http://${self}`, 'content-type': 'application/json' }, '{}');
    await ok({ host: self, 'content-type': 'application/json; charset=utf-8' }, '{}');
    const load = await rawPost(
      url,
      '/v2/repository/models/m/load',
      { host: self, origin: `http://${self}`, 'content-type': 'application/json' },
      '{}',
    );
    assert.equal(load.status, 200, load.body);
    await stillServing();
  });
});

describe('hostile input: forged calls with an admin token', () => {
  let server: ModelServer;
  let url: string;
  let cleanup: () => Promise<void>;
  const token = 'correct-horse-battery-staple';

  before(async () => {
    const tmp = await tempDir('mlscale-hostile-admin-token-');
    cleanup = tmp.cleanup;
    await writeModel(join(tmp.dir, 'repo'), 'm', 1, smallModelBytes(41));
    ({ server, url } = await startServer({
      modelRepository: join(tmp.dir, 'repo'),
      adminToken: token,
      modelOverrides: { instances: 1 },
    }));
  });
  after(async () => {
    await server?.close();
    await cleanup?.();
  });

  test('any Host name goes with the token, but Origin and the media type are still checked', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const index = '/v2/repository/index';
    assert.equal((await rawPost(url, index, { ...auth, host: 'models.example.com' })).status, 200);
    assertJsonError(
      await rawPost(url, index, { host: 'models.example.com' }),
      401,
      /Authorization: Bearer/,
    );
    assertJsonError(
      await rawPost(url, index, {
        ...auth,
        host: 'models.example.com',
        origin: 'http://evil.example',
      }),
      403,
      /cross-origin/,
    );
    assertJsonError(
      await rawPost(
        url,
        index,
        { ...auth, host: 'models.example.com', 'content-type': 'text/plain' },
        '{}',
      ),
      415,
      /JSON body/,
    );
    await assertLive(url);
  });
});
