/**
 * The load generator's HTTP client against servers that frame answers every way HTTP/1.1 allows
 * (content-length, chunked, end of connection, `Connection: close`), that close connections
 * mid-request, answer garbage, never answer, or speak TLS.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server,
  type Socket,
} from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  HttpLoadPool,
  serialiseRequest,
  type LoadRequest,
} from '../../src/analysis/http-load-pool.js';
import { errorKind } from '../../src/analysis/load-recorder.js';
import { startServer, type TestServer } from './load-servers.js';

type Outcome = { status: number } | { error: string };

/** Sends `n` requests through a pool and resolves with their outcomes in completion order. */
function sendAll(
  url: string,
  n: number,
  extra: { connections?: number; timeoutMs?: number; ca?: Buffer; fromMs?: number } = {},
): Promise<Outcome[]> {
  return new Promise((resolve) => {
    const outcomes: Outcome[] = [];
    const done = (o: Outcome) => {
      outcomes.push(o);
      if (outcomes.length === n) {
        pool.close();
        resolve(outcomes);
      }
    };
    const pool = new HttpLoadPool<LoadRequest>(
      {
        url: new URL(url),
        method: 'POST',
        headers: ['content-type', 'application/json'],
        body: Buffer.from('{"a":1}'),
        connections: extra.connections ?? 2,
        timeoutMs: extra.timeoutMs ?? 5000,
        ca: extra.ca,
      },
      {
        onResponse: (_r, status) => done({ status }),
        onFailure: (_r, err) => done({ error: errorKind(err) }),
      },
    );
    for (let i = 0; i < n; i++) pool.send({ fromMs: extra.fromMs ?? performance.now() });
  });
}

/** A TCP server that answers each request's bytes with `reply(socket, n)`; n counts requests per server. */
async function startRawServer(
  reply: (socket: Socket, n: number) => void,
): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  let n = 0;
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createNetServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk) => {
      // Each request of the pool arrives whole in one chunk here (small, one write, no pipelining).
      if (chunk.includes('\r\n\r\n')) reply(socket, n++);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/x`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('HttpLoadPool', () => {
  let close: (() => Promise<void>) | undefined;
  let server: TestServer | undefined;
  afterEach(async () => {
    await close?.();
    await server?.close();
    close = undefined;
    server = undefined;
  });

  test('should serialise the request once: request line, host, headers, content-length, body', () => {
    const bytes = serialiseRequest({
      url: new URL('http://127.0.0.1:8000/v2/models/m/infer?x=1'),
      method: 'POST',
      headers: ['content-type', 'application/json', 'x-token', 't'],
      body: Buffer.from('{"a":1}'),
    });
    assert.equal(
      bytes.toString('latin1'),
      'POST /v2/models/m/infer?x=1 HTTP/1.1\r\nhost: 127.0.0.1:8000\r\ncontent-type: application/json\r\nx-token: t\r\ncontent-length: 7\r\n\r\n{"a":1}',
    );
    const get = serialiseRequest({
      url: new URL('http://h/'),
      method: 'GET',
      headers: ['Host', 'other'],
      body: null,
    });
    assert.equal(get.toString('latin1'), 'GET / HTTP/1.1\r\nHost: other\r\n\r\n');
  });

  test('should read answers framed by content-length, by chunks, and by the end of the connection', async () => {
    const raw = await startRawServer((socket, n) => {
      if (n % 3 === 0) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      else if (n % 3 === 1)
        socket.write(
          'HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n3\r\n!!!\r\n0\r\n\r\n',
        );
      else socket.end('HTTP/1.1 202 Accepted\r\nconnection: close\r\n\r\nread until the end');
    });
    close = raw.close;
    const outcomes = await sendAll(raw.url, 30, { connections: 1 });
    assert.deepEqual(
      outcomes.map((o) => ('status' in o ? o.status : o.error)),
      Array.from({ length: 30 }, (_, i) => [200, 201, 202][i % 3]),
    );
    // Each answer framed by the connection's end took its connection with it.
    assert.equal(raw.connections(), 10);
  });

  test('should open a new connection after a `Connection: close` answer', async () => {
    server = await startServer((_req, res) => {
      res.writeHead(200, { connection: 'close', 'content-type': 'text/plain' });
      res.end('ok');
    });
    const outcomes = await sendAll(server.url, 20, { connections: 2 });
    assert.deepEqual(
      outcomes,
      Array.from({ length: 20 }, () => ({ status: 200 })),
    );
    assert.equal(server.seen(), 20);
  });

  test('should fail a request whose connection the server closes, and go on with new connections', async () => {
    const raw = await startRawServer((socket, n) => {
      if (n % 2 === 1) socket.destroy();
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    });
    close = raw.close;
    const outcomes = await sendAll(raw.url, 20, { connections: 1 });
    const kinds = outcomes.map((o) => ('status' in o ? o.status : o.error));
    assert.equal(kinds.filter((k) => k === 200).length, 10, JSON.stringify(kinds));
    assert.equal(
      kinds.filter((k) => k === 'socket closed' || k === 'ECONNRESET').length,
      10,
      JSON.stringify(kinds),
    );
  });

  test('should fail an answer that is not HTTP as an invalid answer', async () => {
    const raw = await startRawServer((socket) => socket.write('SSH-2.0-OpenSSH_9.2\r\n\r\n'));
    close = raw.close;
    const outcomes = await sendAll(raw.url, 3, { connections: 1 });
    assert.deepEqual(outcomes, [
      { error: 'invalid answer' },
      { error: 'invalid answer' },
      { error: 'invalid answer' },
    ]);
  });

  test('should time out unanswered requests and queued ones without sending them', async () => {
    server = await startServer(() => {}); // never answers
    const started = performance.now();
    const outcomes = await sendAll(server.url, 6, { connections: 2, timeoutMs: 200 });
    assert.deepEqual(
      outcomes,
      Array.from({ length: 6 }, () => ({ error: 'timeout' })),
    );
    // Two were sent; the four queued behind them timed out waiting, unsent.
    assert.equal(server.seen(), 2);
    assert.ok(performance.now() - started < 3000);
  });

  test('should fail requests to a closed port with the OS error', async () => {
    const gone = await startServer(() => {});
    await gone.close();
    const outcomes = await sendAll(gone.url, 3, { connections: 1 });
    assert.deepEqual(outcomes, [
      { error: 'ECONNREFUSED' },
      { error: 'ECONNREFUSED' },
      { error: 'ECONNREFUSED' },
    ]);
  });

  test(
    'should speak https with the CA given',
    { skip: spawnSync('openssl', ['version']).status !== 0 ? 'needs openssl on PATH' : false },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'mlscale-tls-'));
      try {
        const r = spawnSync(
          'openssl',
          [
            'req',
            '-x509',
            '-newkey',
            'rsa:2048',
            '-nodes',
            '-keyout',
            'key.pem',
            '-out',
            'cert.pem',
            '-days',
            '1',
            '-subj',
            '/CN=127.0.0.1',
            '-addext',
            'subjectAltName=IP:127.0.0.1',
          ],
          { cwd: dir, encoding: 'utf8' },
        );
        assert.equal(r.status, 0, r.stderr);
        const cert = readFileSync(join(dir, 'cert.pem'));
        const https = createHttpsServer(
          { cert, key: readFileSync(join(dir, 'key.pem')) },
          (req, res) => {
            req.resume();
            req.on('end', () => res.end('secure'));
          },
        );
        await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
        close = () =>
          new Promise<void>((resolve) => {
            https.close(() => resolve());
            https.closeAllConnections();
          });
        const url = `https://127.0.0.1:${(https.address() as AddressInfo).port}/`;
        assert.deepEqual(
          await sendAll(url, 4, { ca: cert }),
          Array.from({ length: 4 }, () => ({ status: 200 })),
        );
        // Without the CA the certificate is refused, as a browser would.
        const refused = await sendAll(url, 1);
        assert.ok(
          'error' in refused[0]! &&
            /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/.test(refused[0].error),
          JSON.stringify(refused),
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
