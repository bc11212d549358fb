/**
 * Slow clients on loopback: headers or a body sent a few bytes at a time are cut after the
 * server's timeouts with 408 and the protocol's JSON body, many of them at once do not stop
 * liveness, and connections beyond --max-connections are closed as they arrive.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { ModelServer } from '../../src/serve/server.js';
import { tempDir } from '../helpers.js';
import { sleep, smallModelBytes, startServer, writeModel } from '../serve/server/server-fixture.js';
import {
  assertJsonError,
  assertLive,
  openSocket,
  parseAnswer,
  type RawAnswer,
} from './hostile-fixture.js';

/** Writes `head`, then one byte of `trickle` every `everyMs` until the server closes the connection; resolves with its answer. */
async function trickle(
  url: string,
  head: string,
  trickle: string,
  everyMs = 100,
): Promise<RawAnswer> {
  const socket = await openSocket(url);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let i = 0;
    const timer = setInterval(() => {
      if (socket.writable && i < trickle.length) socket.write(trickle[i++]!);
    }, everyMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve(parseAnswer(Buffer.concat(chunks).toString('utf8')));
    });
    socket.write(head);
  });
}

describe('hostile input: slow clients', () => {
  let server: ModelServer;
  let url: string;
  let cleanup: () => Promise<void>;
  const maxConnections = 300;

  before(async () => {
    const tmp = await tempDir('mlscale-hostile-slow-');
    cleanup = tmp.cleanup;
    await writeModel(join(tmp.dir, 'repo'), 'm', 1, smallModelBytes(41));
    ({ server, url } = await startServer({
      modelRepository: join(tmp.dir, 'repo'),
      headersTimeoutMs: 500,
      bodyTimeoutMs: 1500,
      maxConnections,
      modelOverrides: { instances: 1 },
    }));
  });
  after(async () => {
    await server?.close({ now: true });
    await cleanup?.();
  });

  test('headers sent a byte at a time are cut with 408', { timeout: 60_000 }, async () => {
    const answer = await trickle(
      url,
      'GET /v2/health/live HTTP/1.1\r\nHost: x\r\n',
      'X-Slow: ' + 'a'.repeat(1000),
    );
    assertJsonError(answer, 408, /^the request was not received in time$/);
    await assertLive(url);
  });

  test('a body sent a byte at a time is cut with 408', { timeout: 60_000 }, async () => {
    const answer = await trickle(
      url,
      'POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n',
      '{"inputs": ' + ' '.repeat(5000),
    );
    assertJsonError(answer, 408, /not received in time/);
    await assertLive(url);
  });

  test(
    '200 slow uploads at once: liveness still answers, and every one is cut',
    { timeout: 120_000 },
    async () => {
      const count = 200;
      const answers = Array.from({ length: count }, () =>
        trickle(
          url,
          'POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n',
          ' '.repeat(5000),
          200,
        ),
      );
      await sleep(200);
      await assertLive(url);
      const done = await Promise.all(answers);
      assert.equal(done.filter((a) => a.status === 408).length, count);
      await assertLive(url);
    },
  );

  test(
    'connections beyond maxConnections are closed as they arrive; the server recovers',
    { timeout: 60_000 },
    async () => {
      const held: Socket[] = [];
      try {
        for (let i = 0; i < maxConnections; i++) held.push(await openSocket(url));
        // Give the server the time to accept them all: each answers a request once accepted.
        const extra = await openSocket(url);
        const received = await new Promise<string>((resolve) => {
          let text = '';
          extra.on('data', (c: Buffer) => (text += c));
          extra.on('error', () => undefined);
          extra.on('close', () => resolve(text));
          extra.write('GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        });
        assert.equal(received, '', 'the connection over the limit is closed unanswered');
      } finally {
        for (const s of held) s.destroy();
      }
      // Once they are gone, liveness answers again.
      for (let i = 0; ; i++) {
        try {
          await assertLive(url);
          break;
        } catch (err) {
          if (i > 50) throw err;
          await sleep(100);
        }
      }
    },
  );
});
