/**
 * Concurrent large bodies under a small budget of bytes in flight: past the budget a request gets
 * 503 with Retry-After and a message saying why, before its body is kept; liveness answers
 * throughout; once the bodies are gone the budget is free again and requests are served.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { Prng } from '../../src/model/prng.js';
import type { ModelServer } from '../../src/serve/server.js';
import { tempDir } from '../helpers.js';
import {
  infer,
  inferBody,
  metricValue,
  randomInput,
  scrape,
  sleep,
  smallModelBytes,
  startServer,
  writeModel,
} from '../serve/server/server-fixture.js';
import { assertJsonError, assertLive, openSocket, sendRaw } from './hostile-fixture.js';

const MiB = 1024 * 1024;

describe('hostile input: concurrent large bodies under a budget of bytes in flight', () => {
  let server: ModelServer;
  let url: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-hostile-large-');
    cleanup = tmp.cleanup;
    await writeModel(join(tmp.dir, 'repo'), 'm', 1, smallModelBytes(41));
    ({ server, url } = await startServer({
      modelRepository: join(tmp.dir, 'repo'),
      bodyLimit: 4 * MiB,
      maxBytesInFlight: 10 * MiB,
      modelOverrides: { instances: 1 },
    }));
  });
  after(async () => {
    await server?.close({ now: true });
    await cleanup?.();
  });

  const inFlight = async (): Promise<number> =>
    metricValue(await scrape(url), 'mlscale_request_bytes_in_flight', {}) ?? -1;

  test(
    'bodies past the budget get 503 + Retry-After; the budget frees when they are gone',
    { timeout: 60_000 },
    async () => {
      // Three 3 MiB uploads under way (headers sent, body trickling): 9 of the 10 MiB.
      const held: Socket[] = [];
      try {
        for (let i = 0; i < 3; i++) {
          const s = await openSocket(url);
          s.on('error', () => undefined);
          s.write(
            `POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${3 * MiB}\r\n\r\n{"inputs": `,
          );
          held.push(s);
        }
        for (let i = 0; (await inFlight()) < 9 * MiB; i++) {
          assert.ok(i < 100, `in flight: ${await inFlight()}`);
          await sleep(50);
        }
        // A fourth large one is refused at its headers.
        const body = Buffer.alloc(2 * MiB, ' ');
        const refused = await sendRaw(
          url,
          Buffer.concat([
            Buffer.from(
              `POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
            ),
            body,
          ]),
        );
        assertJsonError(
          refused,
          503,
          /^the server holds 9437184 bytes of requests being read, queued or run, and this one's 2097152 bytes would pass its budget of 10485760 \(--max-bytes-in-flight\); retry shortly/,
        );
        assert.equal(refused.headers['retry-after'], '1');
        // A client still uploading reads the answer too: the connection is not reset under it.
        const viaFetch = await fetch(`${url}/v2/models/m/infer`, {
          method: 'POST',
          body: Buffer.alloc(3 * MiB, ' '),
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(viaFetch.status, 503, await viaFetch.text());
        assert.equal(viaFetch.headers.get('retry-after'), '1');
        // Liveness has no body: it answers, and a small inference still fits.
        await assertLive(url);
        const small = await infer(url, 'm', inferBody(randomInput(new Prng(3), 1)));
        assert.equal(small.status, 200, small.text);
      } finally {
        for (const s of held) s.destroy();
      }
      for (let i = 0; (await inFlight()) > 0; i++) {
        assert.ok(i < 100, `still in flight: ${await inFlight()}`);
        await sleep(50);
      }
      const after = await infer(url, 'm', inferBody(randomInput(new Prng(4), 1)));
      assert.equal(after.status, 200, after.text);
    },
  );

  test(
    '20 concurrent 3 MiB bodies: each is served or refused with 503, none is lost, liveness answers',
    { timeout: 120_000 },
    async () => {
      const padding = ' '.repeat(3 * MiB - 2000);
      const body = JSON.stringify(inferBody(randomInput(new Prng(5), 1))).replace(
        /^\{/,
        `{${padding}`,
      );
      const answers = await Promise.all(
        Array.from({ length: 20 }, () =>
          fetch(`${url}/v2/models/m/infer`, {
            method: 'POST',
            body,
            headers: { 'content-type': 'application/json' },
          }).then(async (r) => ({ status: r.status, text: await r.text() })),
        ),
      );
      for (const a of answers)
        assert.ok(a.status === 200 || a.status === 503, `${a.status} ${a.text}`);
      assert.ok(answers.some((a) => a.status === 200));
      await assertLive(url);
      for (let i = 0; (await inFlight()) > 0; i++) {
        assert.ok(i < 100, `still in flight: ${await inFlight()}`);
        await sleep(50);
      }
    },
  );
});
