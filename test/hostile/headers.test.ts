/**
 * Hostile requests at the HTTP layer: missing or malformed request lines and headers. Each gets
 * the protocol's JSON error body, and the server stays live.
 */
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import type { ModelServer } from '../../src/serve/server.js';
import { tempDir } from '../helpers.js';
import { smallModelBytes, startServer, writeModel } from '../serve/server/server-fixture.js';
import { assertJsonError, assertLive, sendRaw } from './hostile-fixture.js';

describe('hostile input: HTTP request lines and headers', () => {
  let server: ModelServer;
  let url: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-hostile-headers-');
    cleanup = tmp.cleanup;
    await writeModel(join(tmp.dir, 'repo'), 'm', 1, smallModelBytes(41));
    ({ server, url } = await startServer({
      modelRepository: join(tmp.dir, 'repo'),
      modelOverrides: { instances: 1 },
    }));
  });
  after(async () => {
    await server?.close();
    await cleanup?.();
  });

  test('an HTTP/1.1 request without a Host header gets the JSON error body', async () => {
    const answer = await sendRaw(url, 'GET /v2/health/live HTTP/1.1\r\nConnection: close\r\n\r\n');
    assertJsonError(answer, 400, /Host header/);
    await assertLive(url);
  });

  const malformed: [string, string, number, RegExp][] = [
    ['a garbage request line', 'HELLO\r\n\r\n', 400, /malformed HTTP request/],
    [
      'a header without a colon',
      'GET / HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n',
      400,
      /malformed HTTP request/,
    ],
    [
      'a bad Content-Length',
      'POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
      400,
      /malformed HTTP request/,
    ],
    [
      'both Content-Length and chunked',
      'POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
      /malformed HTTP request/,
    ],
    [
      'headers over 16 KiB',
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      /headers are too large/,
    ],
    [
      'a NUL in a header value',
      'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n',
      400,
      /malformed HTTP request/,
    ],
  ];
  for (const [what, text, status, message] of malformed) {
    test(`${what} gets ${status} with the JSON error body`, async () => {
      assertJsonError(await sendRaw(url, text), status, message);
      await assertLive(url);
    });
  }
});
