import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers.js';
import { answer, startServer, type TestServer } from '../analysis/load-servers.js';

describe('mlscale load', () => {
  let server: TestServer;
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir('mlscale-load-cli-'));
    await writeFile(
      join(dir, 'req.json'),
      '{\n  "inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]\n}\n',
    );
    await writeFile(join(dir, 'bad.json'), '{\n  "inputs": [1, 2,]\n}\n');
    // Every fourth request is shed with a 503, the rest answered.
    server = await startServer((_req, res, n) => answer(res, n % 4 === 3 ? 503 : 200));
  });
  after(async () => {
    await server.close();
    await cleanup();
  });

  const usage: [string, string[], RegExp][] = [
    ['a missing --url', ['--rate', '10'], /--url is required/],
    [
      'a --url that is not http',
      ['--url', 'localhost:8000', '--rate', '10'],
      /--url must be an http:\/\/ or https:\/\/ URL, got "localhost:8000"/,
    ],
    [
      'an open loop without --rate',
      ['--url', 'http://127.0.0.1:9/'],
      /--rate \(requests per second\) or --profile is required for --mode open/,
    ],
    [
      'a --rate that is not a number',
      ['--url', 'http://127.0.0.1:9/', '--rate', 'fast'],
      /--rate must be a positive number of requests per second, at most 10000000, got "fast"/,
    ],
    [
      'a --rate with --mode closed',
      ['--url', 'http://127.0.0.1:9/', '--mode', 'closed', '--rate', '5'],
      /--rate is for --mode open/,
    ],
    [
      'an unknown --mode',
      ['--url', 'http://127.0.0.1:9/', '--mode', 'half'],
      /--mode must be open or closed, got "half"/,
    ],
    [
      'a bad --duration',
      ['--url', 'http://127.0.0.1:9/', '--rate', '5', '--duration', '30x'],
      /--duration must be a duration such as 500ms, 30s, 2m, 1\.5h or a bare number of seconds, above zero and at most 24h; got "30x"/,
    ],
    [
      'a bad --connections',
      ['--url', 'http://127.0.0.1:9/', '--rate', '5', '--connections', '0'],
      /--connections must be an integer from 1 to 100000, got "0"/,
    ],
    [
      'a bad --header',
      ['--url', 'http://127.0.0.1:9/', '--rate', '5', '--header', 'no-colon'],
      /--header must be "Name: value", got "no-colon"/,
    ],
    [
      'a --header the generator sets itself',
      ['--url', 'http://127.0.0.1:9/', '--rate', '5', '--header', 'Content-Length: 3'],
      /--header "Content-Length: 3": Content-Length is set by the load generator; remove it/,
    ],
    [
      'an unknown --method',
      ['--url', 'http://127.0.0.1:9/', '--rate', '5', '--method', 'PUT'],
      /--method must be GET or POST, got "PUT"/,
    ],
    [
      'an unknown flag',
      ['--url', 'http://127.0.0.1:9/', '--rat', '5'],
      /mlscale load: Unknown option '--rat'/,
    ],
  ];
  for (const [what, args, message] of usage) {
    test(`should refuse ${what} with exit status 2`, async () => {
      const r = await runCli(['load', ...args], { timeoutMs: 20_000 });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /\[E_INVALID_OPTION\]/);
    });
  }

  test('should refuse a --body file that does not exist', async () => {
    const missing = join(dir, 'nope.json');
    const r = await runCli(['load', '--url', server.url, '--rate', '5', '--body', '@' + missing], {
      timeoutMs: 20_000,
    });
    assert.equal(r.code, 2);
    assert.ok(r.stderr.includes(`--body ${missing}: cannot read the file: no such file`), r.stderr);
  });

  test('should name the line and column of a --body that is not valid JSON', async () => {
    const bad = join(dir, 'bad.json');
    const r = await runCli(['load', '--url', server.url, '--rate', '5', '--body', bad], {
      timeoutMs: 20_000,
    });
    assert.equal(r.code, 2);
    assert.ok(r.stderr.includes(`--body ${bad}:2:19: not valid JSON`), r.stderr);
  });

  test('should fail within seconds on an unreachable URL, naming it and the OS error', async () => {
    const gone = await startServer(() => {});
    const url = gone.url;
    await gone.close();
    const started = Date.now();
    const r = await runCli(['load', '--url', url, '--rate', '5', '--duration', '30s'], {
      timeoutMs: 20_000,
    });
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(`cannot reach ${url}: connect ECONNREFUSED`), r.stderr);
    assert.match(r.stderr, /\[E_LOAD_TARGET_UNREACHABLE\]/);
    assert.ok(Date.now() - started < 10_000);
  });

  test('should run an open loop and print the summary with errors by status', async () => {
    const body = join(dir, 'req.json');
    const r = await runCli(
      [
        'load',
        '--url',
        server.url,
        '--body',
        `@${body}`,
        '--rate',
        '100',
        '--duration',
        '1s',
        '--header',
        'x-run: cli',
      ],
      {
        timeoutMs: 30_000,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^mlscale load: open loop, 100 requests\/s offered, 1\.0 s measured → http:\/\/127\.0\.0\.1:\d+\/infer$/m,
    );
    assert.match(r.stdout, /^ {2}requests {6}100 sent \(100\.0\/s\): 75 2xx, 25 errors$/m);
    assert.match(
      r.stdout,
      /^ {2}latency \(ms\) {2}p50 [\d.]+ {2}p90 [\d.]+ {2}p95 [\d.]+ {2}p99 [\d.]+ {2}p99\.9 [\d.]+ {2}max [\d.]+ {2}mean [\d.]+ {2}\(from the scheduled send time\)$/m,
    );
    assert.match(r.stdout, /^ {2}errors {8}status 503: 25$/m);
  });

  test('should print the result as JSON with --json', async () => {
    const r = await runCli(
      [
        'load',
        '--url',
        server.url,
        '--mode',
        'closed',
        '--connections',
        '2',
        '--duration',
        '500ms',
        '--json',
      ],
      {
        timeoutMs: 30_000,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(result.mode, 'closed');
    assert.equal(result.offeredRate, null);
    assert.equal(result.durationS, 0.5);
    assert.ok((result.ok as number) > 0);
    assert.deepEqual(Object.keys(result.latencyMs as object), [
      'p50',
      'p90',
      'p95',
      'p99',
      'p999',
      'max',
      'mean',
    ]);
    assert.deepEqual(Object.keys(result.errorsByKind as object), ['status 503']);
  });

  test('should list its flags with --help', async () => {
    const r = await runCli(['load', '--help'], { timeoutMs: 20_000 });
    assert.equal(r.code, 0);
    for (const flag of [
      '--url',
      '--mode',
      '--rate',
      '--duration',
      '--connections',
      '--body',
      '--method',
      '--header',
      '--warmup',
      '--timeout',
      '--json',
    ]) {
      assert.ok(r.stdout.includes(flag), flag);
    }
  });
});
