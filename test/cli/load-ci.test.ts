/**
 * `mlscale load` as a CI gate: thresholds and exit codes, bodies from a JSON Lines file, the
 * per-second time series and the report, run against a local server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers.js';
import { answer, startServer, type TestServer } from '../analysis/load-servers.js';
import { parseThreshold, checkThresholds } from '../../src/analysis/thresholds.js';
import type { LoadResult } from '../../src/analysis/loadgen.js';

const request = (x: number) =>
  JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [x, x] }] });

describe('thresholds (parsing and checking)', () => {
  const result: LoadResult = {
    mode: 'open',
    offeredRate: 100,
    achievedRate: 98,
    sentRate: 100,
    durationS: 10,
    requests: 1000,
    ok: 990,
    errors: 10,
    errorsByKind: { 'status 503': 10 },
    latencyMs: { p50: 5, p90: 9, p95: 12, p99: 40, p999: 80, max: 90, mean: 6 },
    generatorBound: false,
    generatorNote: null,
  };
  const cases: [string, number, boolean][] = [
    ['p99<50ms', 40, true],
    ['p99 < 0.03s', 40, false],
    ['p95<=12ms', 12, true],
    ['p99.9<100ms', 80, true],
    ['max<50ms', 90, false],
    ['mean<10ms', 6, true],
    ['errors<0.1%', 0.01, false],
    ['errors<=1%', 0.01, true],
    ['errors<0.05', 0.01, true],
    ['rps>100', 98, false],
    ['rps>=90', 98, true],
  ];
  for (const [text, actual, passed] of cases)
    test(`${text} should ${passed ? 'pass' : 'fail'} (actual ${actual})`, () => {
      const [o] = checkThresholds([parseThreshold(text)], result);
      assert.equal(o!.actual, actual);
      assert.equal(o!.passed, passed);
    });

  test('a latency threshold should fail when no request was answered', () => {
    const [o] = checkThresholds([parseThreshold('p99<50ms')], { ...result, ok: 0 });
    assert.equal(o!.passed, false);
  });

  const bad: [string, RegExp][] = [
    ['p99<50', /--threshold "p99<50": a latency needs a unit, ms or s, got "50"/],
    ['p98<5ms', /unknown metric "p98"/],
    ['errors<5 percent', /not METRIC OP VALUE/],
    ['errors<150%', /errors are a share of requests/],
    ['rps>fast', /rps is a number/],
    ['p99=5ms', /not METRIC OP VALUE; expected METRIC OP VALUE with METRIC p50/],
  ];
  for (const [text, message] of bad)
    test(`should refuse ${JSON.stringify(text)} with the flag and the expected form`, () =>
      assert.throws(() => parseThreshold(text), message));
});

describe('mlscale load in CI', () => {
  let server: TestServer;
  let dir: string;
  let cleanup: () => Promise<void>;
  const bodies: string[] = [];
  before(async () => {
    ({ dir, cleanup } = await tempDir('mlscale-load-ci-'));
    await writeFile(join(dir, 'requests.jsonl'), [1, 2, 3].map(request).join('\n') + '\n\n');
    await writeFile(
      join(dir, 'bad.jsonl'),
      `${request(1)}\n${request(2)}\n{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1]}]}\n`,
    );
    await writeFile(join(dir, 'broken.jsonl'), `${request(1)}\n{"inputs": [\n`);
    // Every tenth request is shed with a 503.
    server = await startServer((_req, res, n, body) => {
      bodies.push(body);
      answer(res, n % 10 === 9 ? 503 : 200);
    });
  });
  after(async () => {
    await server.close();
    await cleanup();
  });

  const run = (...args: string[]) =>
    runCli(['load', '--url', server.url, '--connections', '1', ...args], { timeoutMs: 60_000 });

  test('should exit 0 and say so when every threshold passes', async () => {
    const r = await run(
      '--rate',
      '20',
      '--duration',
      '1s',
      '--threshold',
      'p99<30s',
      '--threshold',
      'errors<50%',
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /thresholds {4}all 2 passed/);
    assert.match(r.stdout, /✓ passed {2}p99<30s {2}\(p99 = [\d.]+ ms\)/);
    assert.match(r.stdout, /✓ passed {2}errors<50% {2}\(errors = 10\.00%\)/);
  });

  test('should exit 99 and mark the failed one when a threshold is violated', async () => {
    const r = await run(
      '--rate',
      '20',
      '--duration',
      '1s',
      '--threshold',
      'p99<30s',
      '--threshold',
      'errors<0.1%',
    );
    assert.equal(r.code, 99, r.stdout + r.stderr);
    assert.match(r.stdout, /thresholds {4}1 of 2 FAILED \(exit 99\)/);
    assert.match(r.stdout, /✗ FAILED {2}errors<0\.1% {2}\(errors = 10\.00%\)/);
    assert.match(r.stdout, /✓ passed {2}p99<30s/);
  });

  test('should put the thresholds in the JSON result', async () => {
    const r = await run('--rate', '10', '--duration', '1s', '--threshold', 'rps>100000', '--json');
    assert.equal(r.code, 99);
    const json = JSON.parse(r.stdout) as { thresholds: { threshold: string; passed: boolean }[] };
    assert.deepEqual(
      json.thresholds.map((t) => [t.threshold, t.passed]),
      [['rps>100000', false]],
    );
  });

  test('should refuse a bad threshold before any request, naming the flag and the form', async () => {
    const seen = server.seen();
    const r = await run('--rate', '10', '--threshold', 'latency<5ms');
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /--threshold "latency<5ms": unknown metric "latency"; expected METRIC OP VALUE/,
    );
    assert.equal(server.seen(), seen);
  });

  test('should send the body file line by line in turn', async () => {
    bodies.length = 0;
    const r = await run(
      '--rate',
      '30',
      '--duration',
      '400ms',
      '--body-file',
      join(dir, 'requests.jsonl'),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(bodies.length, 12);
    assert.deepEqual(
      bodies,
      Array.from({ length: 12 }, (_, i) => request((i % 3) + 1)),
    );
  });

  test('should send the body file in a seeded random order, the same for the same seed', async () => {
    const order = async (seed: string) => {
      bodies.length = 0;
      const r = await run(
        '--rate',
        '50',
        '--duration',
        '600ms',
        '--body-file',
        join(dir, 'requests.jsonl'),
        '--body-order',
        'random',
        '--seed',
        seed,
      );
      assert.equal(r.code, 0, r.stderr);
      return bodies.map(
        (b) => (JSON.parse(b) as { inputs: { data: number[] }[] }).inputs[0]!.data[0],
      );
    };
    const a = await order('7');
    const b = await order('7');
    assert.deepEqual(a, b);
    assert.equal(a.length, 30);
    assert.ok(new Set(a).size === 3, 'every line is used');
    const roundRobin = Array.from({ length: 30 }, (_, i) => (i % 3) + 1);
    assert.notDeepEqual(a, roundRobin);
  });

  test('should name the file and line of a bad request in the body file', async () => {
    const bad = await run('--rate', '10', '--body-file', join(dir, 'bad.jsonl'));
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /--body-file .*bad\.jsonl:3: \$\.inputs\[0\]\.data has 1 values but shape \[1,2\] holds 2/,
    );
    const broken = await run('--rate', '10', '--body-file', join(dir, 'broken.jsonl'));
    assert.match(broken.stderr, /--body-file .*broken\.jsonl:2: not valid JSON/);
    const missing = await run('--rate', '10', '--body-file', join(dir, 'none.jsonl'));
    assert.match(missing.stderr, /--body-file .*none\.jsonl: cannot read the file: no such file/);
  });

  test('should write the time series as CSV and JSON Lines, and chart it in the report', async () => {
    const csv = join(dir, 'series.csv');
    const report = join(dir, 'report');
    const r = await run('--profile', 'ramp:10..30:2s', '--timeseries', csv, '--report', report);
    assert.equal(r.code, 0, r.stderr);
    const lines = (await readFile(csv, 'utf8')).trim().split('\n');
    assert.equal(
      lines[0],
      'second,t,measured,offered,offeredRate,sent,ok,errors,okRate,inflight,p50Ms,p90Ms,p99Ms,maxMs',
    );
    const rows = lines.slice(1).map((l) => l.split(','));
    assert.ok(rows.length >= 2, lines.join('\n'));
    assert.equal(
      rows.reduce((n, c) => n + Number(c[3]), 0),
      40,
      'the offered counts add up to the profile',
    );
    assert.equal(
      rows.reduce((n, c) => n + Number(c[5]), 0),
      40,
    );
    const html = await readFile(join(report, 'load.html'), 'utf8');
    assert.match(html, /<h2>Rate over time<\/h2><svg/);
    assert.match(html, /<h2>Latency over time<\/h2><svg/);
    assert.match(
      await readFile(join(report, 'load.md'), 'utf8'),
      /!\[Rate over time\]\(charts\/rate-over-time\.svg\)/,
    );

    const jsonl = join(dir, 'series.jsonl');
    const j = await run('--rate', '10', '--duration', '1s', '--timeseries', jsonl);
    assert.equal(j.code, 0, j.stderr);
    const first = JSON.parse((await readFile(jsonl, 'utf8')).split('\n')[0]!) as Record<
      string,
      unknown
    >;
    assert.equal(first.second, 1);
    assert.equal(typeof first.okRate, 'number');
  });

  test('sweep serve should read the same body file, naming file and line of a bad request', async () => {
    const r = await runCli([
      'sweep',
      'serve',
      '--model',
      'm',
      '--body-file',
      join(dir, 'bad.jsonl'),
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--body-file .*bad\.jsonl:3: \$\.inputs\[0\]\.data has 1 values/);
  });

  test('should refuse --profile with --rate or --duration, and a bad profile', async () => {
    const both = await run('--rate', '10', '--profile', 'const:10:1s');
    assert.match(both.stderr, /--rate and --profile do not go together/);
    const dur = await run('--profile', 'const:10:1s', '--duration', '5s');
    assert.match(dur.stderr, /--duration and --profile do not go together/);
    const bad = await run('--profile', 'ramp:10:5s');
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /--profile "ramp:10:5s": ramp takes FROM\.\.TO, got "10"; expected const:RATE:DURATION/,
    );
  });
});
