import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { InvalidOptionError, LoadTargetUnreachableError } from '../../src/errors.js';
import { runLoad, type LoadOptions, type LoadProgress } from '../../src/analysis/loadgen.js';
import { answer, startServer, startStallingServer, type TestServer } from './load-servers.js';

describe('runLoad', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test('should show a 500 ms stall in the open loop p99 that the closed loop hides', async () => {
    server = await startStallingServer(700, 500);
    const open = await runLoad({
      url: server.url,
      body: '{}',
      mode: 'open',
      rate: 200,
      durationMs: 2000,
      connections: 16,
    });
    await server.close();
    server = await startStallingServer(700, 500);
    const closed = await runLoad({
      url: server.url,
      body: '{}',
      mode: 'closed',
      connections: 2,
      durationMs: 2000,
    });

    assert.equal(open.errors, 0);
    assert.equal(open.requests, 400);
    // Requests scheduled during the stall wait up to its whole length, counted from their schedule.
    assert.ok(
      open.latencyMs.p99 >= 400,
      `open-loop p99 ${open.latencyMs.p99} ms should reflect the 500 ms stall`,
    );
    assert.ok(open.latencyMs.max >= 450, `open-loop max ${open.latencyMs.max} ms`);
    // Each of the two clients is stuck once; all their other requests are fast. So the stall is in
    // at most 2 of the closed loop's requests: invisible at p99 from 200 requests on (a slow,
    // busy machine may send fewer, and then it is invisible at p90).
    assert.equal(closed.errors, 0);
    assert.ok(closed.requests >= 40, `closed loop sent ${closed.requests}`);
    assert.ok(
      closed.latencyMs.max >= 400,
      `closed-loop max ${closed.latencyMs.max} ms should include the stall`,
    );
    const [name, hidden] =
      closed.requests >= 200 ? ['p99', closed.latencyMs.p99] : ['p90', closed.latencyMs.p90];
    assert.ok(
      hidden < open.latencyMs.p99 / 3,
      `closed-loop ${name} ${hidden} ms (of ${closed.requests} requests) should hide the stall (open-loop p99: ${open.latencyMs.p99} ms)`,
    );
    assert.equal(closed.offeredRate, null);
    assert.equal(closed.generatorBound, false);
  });

  test('should count non-2xx answers by status and keep them out of the latency', async () => {
    // Every third request gets a 503 after 1 s, every fifth (not third) a 500 after 1 s; the rest a 200 at once.
    server = await startServer((_req, res, n) => {
      if (n % 3 === 0) answer(res, 503, 1000);
      else if (n % 5 === 0) answer(res, 500, 1000);
      else answer(res, 200);
    });
    const r = await runLoad({
      url: server.url,
      body: '{"inputs":[]}',
      mode: 'closed',
      connections: 3,
      durationMs: 1200,
    });
    assert.ok(r.errorsByKind['status 503']! > 0, JSON.stringify(r.errorsByKind));
    assert.ok(r.errorsByKind['status 500']! > 0, JSON.stringify(r.errorsByKind));
    assert.deepEqual(Object.keys(r.errorsByKind).sort(), ['status 500', 'status 503']);
    assert.equal(r.errors, r.errorsByKind['status 503']! + r.errorsByKind['status 500']!);
    assert.equal(r.requests, r.ok + r.errors);
    assert.ok(r.ok > 0);
    assert.ok(
      r.latencyMs.max < 900,
      `2xx latency max ${r.latencyMs.max} ms must not include the 1 s error answers`,
    );
  });

  test('should count requests unanswered past the timeout as timeouts', async () => {
    server = await startServer(() => {}); // never answers
    const r = await runLoad({
      url: server.url,
      mode: 'open',
      rate: 20,
      durationMs: 500,
      requestTimeoutMs: 300,
      connections: 4,
    });
    assert.equal(r.ok, 0);
    assert.equal(r.requests, 10);
    assert.deepEqual(r.errorsByKind, { timeout: 10 });
    assert.deepEqual(r.latencyMs, { p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0, mean: 0 });
  });

  test('should reject an unreachable URL with the URL and the OS error, before any run', async () => {
    const closed = await startServer(() => {});
    const url = closed.url;
    await closed.close();
    const started = Date.now();
    await assert.rejects(runLoad({ url, mode: 'closed', durationMs: 10_000 }), (err: unknown) => {
      assert.ok(err instanceof LoadTargetUnreachableError);
      assert.equal(err.code, 'E_LOAD_TARGET_UNREACHABLE');
      assert.match(
        err.message,
        new RegExp(`cannot reach ${url.replace(/[.]/g, '\\.')}: connect ECONNREFUSED`),
      );
      return true;
    });
    assert.ok(Date.now() - started < 5000);
  });

  test('should say plainly when it cannot send at the offered rate', async () => {
    server = await startServer((_req, res) => answer(res));
    const r = await runLoad({
      url: server.url,
      mode: 'open',
      rate: 2_000_000,
      durationMs: 300,
      requestTimeoutMs: 1000,
    });
    assert.equal(r.generatorBound, true);
    assert.ok(r.sentRate < 2_000_000 * 0.95);
    assert.match(r.generatorNote ?? '', /^offered 2000000\/s, achieved \d+\/s, generator-bound/);
  });

  test('should keep up with a modest rate and leave warm-up requests out', async () => {
    server = await startServer((_req, res) => answer(res));
    const progress: LoadProgress[] = [];
    const r = await runLoad({
      url: server.url,
      mode: 'open',
      rate: 100,
      durationMs: 1500,
      warmupMs: 500,
      onProgress: (p) => progress.push(p),
    });
    assert.equal(r.requests, 150);
    assert.equal(r.ok, 150);
    assert.equal(server.seen(), 200);
    assert.equal(r.durationS, 1.5);
    assert.equal(r.offeredRate, 100);
    assert.equal(r.sentRate, 100);
    // Answers received within the window: about the rate on a quiet machine; on a busy one many
    // arrive after the window closes (they still count in ok and in the latency), and late warm-up
    // answers arrive within it.
    assert.ok(
      r.achievedRate > 0 && r.achievedRate * r.durationS <= 200,
      `achieved ${r.achievedRate}/s`,
    );
    assert.ok(
      r.latencyMs.p50 > 0 &&
        r.latencyMs.p50 <= r.latencyMs.p99 &&
        r.latencyMs.p99 <= r.latencyMs.max,
    );
    assert.ok(progress.length >= 1, 'progress is reported about once a second');
    assert.ok(progress.at(-1)!.sent > 0);
  });

  test('should end early on abort and report what it measured', async () => {
    server = await startServer((_req, res) => answer(res));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 400);
    const started = Date.now();
    const r = await runLoad({
      url: server.url,
      mode: 'closed',
      connections: 2,
      durationMs: 30_000,
      signal: controller.signal,
    });
    assert.ok(Date.now() - started < 5000);
    assert.ok(r.durationS < 2, `window ${r.durationS} s`);
    assert.ok(r.ok > 0);
  });

  test('should send nothing when the signal is already aborted', async () => {
    server = await startServer((_req, res) => answer(res));
    for (const mode of ['open', 'closed'] as const) {
      const r = await runLoad({
        url: server.url,
        mode,
        rate: 100,
        durationMs: 5000,
        signal: AbortSignal.abort(),
      });
      assert.equal(r.requests, 0);
    }
    assert.equal(server.seen(), 0);
  });

  test('should leave no listener on a signal that serves many runs', async () => {
    // A sweep passes one signal to every point's run; each run must take its listeners away.
    server = await startServer((_req, res, n) => answer(res, 200, n % 2 === 0 ? 30 : 0));
    const controller = new AbortController();
    for (let i = 0; i < 3; i++) {
      await runLoad({
        url: server.url,
        mode: 'open',
        rate: 200,
        durationMs: 100,
        signal: controller.signal,
      });
    }
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  test('should send the body, method and headers given', async () => {
    const seen: { method?: string; type?: string; token?: string; body: string }[] = [];
    server = await startServer((req, res, _n, body) => {
      seen.push({
        method: req.method,
        type: req.headers['content-type'],
        token: req.headers['x-token'] as string,
        body,
      });
      answer(res);
    }, '/v2/models/m/infer?x=1');
    await runLoad({
      url: server.url,
      body: '{"a":1}',
      headers: { 'x-token': 't' },
      mode: 'open',
      rate: 20,
      durationMs: 200,
    });
    assert.ok(seen.length >= 4);
    assert.deepEqual(seen[0], {
      method: 'POST',
      type: 'application/json',
      token: 't',
      body: '{"a":1}',
    });
  });
});

describe('runLoad option validation', () => {
  const base: LoadOptions = { url: 'http://127.0.0.1:9/', mode: 'open', rate: 10, durationMs: 100 };
  const cases: [string, Partial<LoadOptions> | Record<string, unknown>, RegExp][] = [
    [
      'a URL that is not http',
      { url: 'ftp://x/' },
      /^options\.url must be an http:\/\/ or https:\/\/ URL, got "ftp:\/\/x\/"$/,
    ],
    ['a URL that does not parse', { url: 'nope' }, /^options\.url must be an http/],
    ['an unknown mode', { mode: 'half' }, /^options\.mode must be 'open' or 'closed', got "half"$/],
    [
      'an open loop without a rate',
      { rate: undefined },
      /^options\.rate must be a positive number .*, got undefined$/,
    ],
    ['a negative rate', { rate: -1 }, /^options\.rate must be a positive number .*, got -1$/],
    [
      'a zero duration',
      { durationMs: 0 },
      /^options\.durationMs must be a positive number, got 0$/,
    ],
    [
      'a fractional connection count',
      { connections: 1.5 },
      /^options\.connections must be a positive integer, got 1\.5$/,
    ],
    ['a negative warm-up', { warmupMs: -5 }, /^options\.warmupMs must be a number >= 0, got -5$/],
    [
      'a body with GET',
      { method: 'GET', body: 'x' },
      /^options\.body cannot be sent with method GET/,
    ],
    [
      'an unknown method',
      { method: 'PUT' },
      /^options\.method must be 'GET' or 'POST', got "PUT"$/,
    ],
    [
      'a header that is not a string',
      { headers: { a: 1 } },
      /^options\.headers\['a'\] must be a string, got 1$/,
    ],
    [
      'a header value with a line break',
      { headers: { a: 'x\r\nb: y' } },
      /^options\.headers\['a'\] may not contain CR, LF or NUL characters$/,
    ],
    [
      'a content-length header',
      { headers: { 'Content-Length': '3' } },
      /^options\.headers\['Content-Length'\] is set by the load generator; remove it$/,
    ],
  ];
  for (const [what, patch, message] of cases) {
    test(`should reject ${what}`, async () => {
      await assert.rejects(runLoad({ ...base, ...patch } as LoadOptions), (err: unknown) => {
        assert.ok(err instanceof InvalidOptionError, String(err));
        assert.match(err.message, message);
        return true;
      });
    });
  }
});
