/**
 * `ModelServer.close()`: in-flight requests finish, kept-alive client connections do not hold the
 * shutdown open, and the grace period cuts queued work that would take longer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { ShuttingDownError } from '../../../src/errors.js';
import { Prng } from '../../../src/model/prng.js';
import type { ServedModel } from '../../../src/serve/served-model.js';
import { tempDir } from '../../helpers.js';
import {
  get,
  inferBody,
  randomInput,
  rawRequest,
  sleep,
  slowModelBytes,
  smallModelBytes,
  startServer,
  writeModel,
} from './server-fixture.js';

/** Resolves with `promise`, or rejects after `ms` saying what did not happen. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('mlscale serve: shutdown', () => {
  let repo: string;
  let cleanup: () => Promise<void>;
  const body = JSON.stringify(inferBody(randomInput(new Prng(1), 1)));

  before(async () => {
    const tmp = await tempDir('mlscale-serve-shutdown-');
    cleanup = tmp.cleanup;
    repo = tmp.dir;
    await writeModel(repo, 'slow', 1, slowModelBytes(512, 20));
  });

  after(async () => cleanup?.());

  /** Sends `n` slow requests through `agent` and waits until the server holds all of them. */
  async function sendInFlight(url: string, agent: Agent, n: number) {
    const answers = Array.from({ length: n }, () =>
      rawRequest(url, '/v2/models/slow/infer', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
        agent,
      }).catch((err: Error) => ({
        status: 0,
        headers: {} as IncomingHttpHeaders,
        text: err.message,
      })),
    );
    for (let i = 0; ; i++) {
      const stats = (await get(url, '/v2/models/slow/stats')).json.model_stats[0];
      if (stats.batcher.inFlight + stats.inference_stats.success.count >= n) break;
      assert.ok(i < 500, 'the requests never reached the server');
      await sleep(10);
    }
    return answers;
  }

  test('readiness turns false first: during unreadyDelayMs the server still answers but reports not ready', async () => {
    const { server, url } = await startServer({
      modelRepository: repo,
      unreadyDelayMs: 400,
      modelOverrides: { instances: 1 },
    });
    assert.equal((await get(url, '/v2/health/ready')).status, 200);
    const closed = server.close();
    const ready = await get(url, '/v2/health/ready');
    assert.equal(ready.status, 400);
    assert.match(ready.json.reason, /shutting down/);
    const modelReady = await get(url, '/v2/models/slow/ready');
    assert.equal(modelReady.status, 400);
    const answer = await rawRequest(url, '/v2/models/slow/infer', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(answer.status, 200, 'requests are still served while readiness is false');
    await within(closed, 10_000, 'shutdown after the unready delay');
  });

  test('in-flight requests finish, and clients keeping connections alive do not hold the shutdown open', async () => {
    const { server, url } = await startServer({
      modelRepository: repo,
      gracePeriodMs: 20_000,
      modelOverrides: { instances: 1, maxBatchSize: 0 },
    });
    const agent = new Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
    try {
      const answers = await sendInFlight(url, agent, 3);
      const closed = server.close();
      for (const answer of await Promise.all(answers)) {
        assert.equal(answer.status, 200, answer.text);
        assert.equal(
          answer.headers['connection'],
          'close',
          'answers during the drain close their connection',
        );
      }
      await within(closed, 10_000, 'close()');
      await assert.rejects(
        fetch(`${url}/v2/health/ready`),
        (err: Error & { cause?: { code?: string } }) => err.cause?.code === 'ECONNREFUSED',
      );
    } finally {
      agent.destroy();
      await server.close();
    }
  });

  test("a request whose headers finish arriving during the drain gets 503 with the protocol's error body", async () => {
    const { server, url } = await startServer({
      modelRepository: repo,
      gracePeriodMs: 20_000,
      modelOverrides: { instances: 1, maxBatchSize: 0 },
    });
    const agent = new Agent({ keepAlive: true });
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) =>
        socket.once('connect', resolve).once('error', reject),
      );
      // A request under way on this connection when the drain begins: the connection is not idle,
      // so closing the server does not cut it, and its request reaches the server after the close.
      socket.write('GET /v2/models/slow HTTP/1.1\r\nHost: x\r\nX-Request-Id: late-1\r\n');
      // A slow request in flight keeps the server draining while the late request completes.
      const inFlight = await sendInFlight(url, agent, 1);
      const closed = server.close();
      socket.write('\r\n');
      await within(ended, 10_000, 'the connection to close');
      assert.equal((await Promise.all(inFlight))[0]!.status, 200);
      await within(closed, 10_000, 'close()');
      assert.match(received, /^HTTP\/1\.1 503 /);
      assert.match(received, /\r\nconnection: close\r\n/i);
      assert.match(received, /\r\nretry-after: 1\r\n/i);
      assert.match(received, /\r\nx-request-id: late-1\r\n/i);
      const json = JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4));
      assert.deepEqual(Object.keys(json), ['error']);
      assert.match(json.error, /shutting down/);
    } finally {
      socket.destroy();
      agent.destroy();
      await server.close();
    }
  });

  test("a malformed HTTP request gets 400 with the protocol's error body", async () => {
    const { server, url } = await startServer({
      modelRepository: repo,
      modelOverrides: { instances: 1 },
    });
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    try {
      await new Promise<void>((resolve, reject) =>
        socket.once('connect', resolve).once('error', reject),
      );
      const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.write('GET /v2 HTTP/1.1\r\nHost x\r\n\r\n');
      await within(ended, 10_000, 'the connection to close');
      assert.match(received, /^HTTP\/1\.1 400 /);
      const json = JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4));
      assert.deepEqual(Object.keys(json), ['error']);
      assert.match(json.error, /malformed HTTP request/);
      const badUrl = await get(url, '/v2/models/%E0%A4%A');
      assert.equal(badUrl.status, 400, badUrl.text);
      assert.deepEqual(Object.keys(badUrl.json), ['error']);
    } finally {
      socket.destroy();
      await server.close();
    }
  });

  test('past the grace period, queued requests are cut with 503 and close() returns', async () => {
    const { server, url } = await startServer({
      modelRepository: repo,
      gracePeriodMs: 50,
      modelOverrides: { instances: 1, maxBatchSize: 0 },
    });
    const agent = new Agent({ keepAlive: true });
    try {
      // Six runs of the slow model take far longer than 50 ms: one runs, the queued ones are cut.
      const answers = await sendInFlight(url, agent, 6);
      await within(server.close(), 10_000, 'close()');
      const statuses = (await Promise.all(answers)).map((a) => a.status);
      assert.ok(statuses.includes(200), `the running request finishes: ${statuses.join(', ')}`);
      const cut = (await Promise.all(answers)).filter((a) => a.status !== 200);
      assert.ok(
        cut.length > 0,
        `queued requests are cut after the grace period: ${statuses.join(', ')}`,
      );
      for (const answer of cut) {
        assert.equal(answer.status, 503, answer.text);
        assert.match(JSON.parse(answer.text).error, /shutting down/);
        assert.equal(answer.headers['retry-after'], '1');
      }
    } finally {
      agent.destroy();
      await server.close();
    }
  });

  test('a model that finishes loading after shutdown began is closed, not left running', async () => {
    await writeModel(repo, 'late', 1, smallModelBytes(61));
    const { server } = await startServer({
      modelRepository: repo,
      gracePeriodMs: 0,
      modelOverrides: { instances: 1, maxBatchSize: 0 },
    });
    let loaded: ServedModel | undefined;
    try {
      // Load through the repository itself, to hold its promise: the HTTP request would be cut by the shutdown.
      const loading = server.repository.load('late');
      const closing = server.close();
      await assert.rejects(
        loading.then((m) => (loaded = m)),
        (err: unknown) =>
          err instanceof ShuttingDownError &&
          /after the server began shutting down/.test(err.message),
      );
      await within(closing, 10_000, 'close()');
      assert.deepEqual(server.repository.models(), [], 'no model is left with running instances');
      await assert.rejects(
        server.repository.load('late'),
        ShuttingDownError,
        'no loads after shutdown',
      );
    } finally {
      await loaded?.close({ drain: false });
      await server.close();
    }
  });
});
