import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../../src/util/package-root.js';
import { runCli, tempDir } from '../helpers.js';

const fixtures = join(packageRoot(), 'test', 'fixtures', 'sweeps');
const serve = join(fixtures, 'serve-2cpu');
const pipeline = join(fixtures, 'pipeline-2cpu', 'sweep.json');

describe('mlscale advise', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => {};
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('mlscale-advise-cli-'));
  });
  afterEach(() => cleanup());

  test('should print the lever for each sweep with the numbers, the capacity plan and the costs', async () => {
    const r = await runCli([
      'advise',
      serve,
      pipeline,
      '--price',
      '2cpu=0.10/h,8cpu=0.38/h',
      '--target-rate',
      '50000',
      '--target-rows',
      '100000000',
      '--target-time',
      '2m',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Serving: serve sweep of model digits-mlp/);
    assert.match(r.stdout, /Next lever: horizontal/);
    assert.match(
      r.stdout,
      /Capacity: 50,000 req\/s at the SLO needs ceil\(50,000 \/ 11,250\) = 5 machines of 2 CPUs/,
    );
    assert.match(r.stdout, /within 2 min they need 3 machines of 2 CPUs/);
    assert.match(r.stdout, /Serving on 8cpu at \$0\.38\/h: .*predicted by Amdahl/);
  });

  test('should write the report with --out and print JSON with --json', async () => {
    const out = join(dir, 'report');
    const r = await runCli(['advise', serve, '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as {
      recommendations: { lever: string }[];
      report: { html: string };
    };
    assert.equal(json.recommendations[0]!.lever, 'horizontal');
    assert.equal(json.report.html, join(out, 'report.html'));
    const html = await readFile(join(out, 'report.html'), 'utf8');
    assert.ok((html.match(/<svg/g) ?? []).length >= 4);
    assert.ok((await stat(join(out, 'report.md'))).size > 0);
  });

  test('should refuse no paths, bad prices, bad targets and unreadable sweeps with clear messages', async () => {
    await mkdir(join(dir, 'v2'));
    const text = (await readFile(join(serve, 'sweep.json'), 'utf8')).replace(
      '"schemaVersion": 1',
      '"schemaVersion": 3',
    );
    await writeFile(join(dir, 'v2', 'sweep.json'), text);
    const cases: [string[], number, RegExp][] = [
      [['advise'], 2, /needs one or more sweep folders or sweep\.json files.*\[E_INVALID_OPTION\]/],
      [
        ['advise', serve, '--price', '2cpu=0.10/h,8cpu'],
        2,
        /--price item 2 must be <N>cpu=<price per hour>, e\.g\. 8cpu=0\.38\/h, got "8cpu"/,
      ],
      [
        ['advise', serve, '--target-rate', 'lots'],
        2,
        /--target-rate must be a number > 0, got "lots"/,
      ],
      [
        ['advise', pipeline, '--target-rows', '1000', '--target-time', 'soon'],
        2,
        /--target-time must be a duration such as 500ms, 30s, 2m, 1\.5h or a bare number of seconds, above zero; got "soon"/,
      ],
      [
        ['advise', pipeline, '--target-rows', '1000'],
        2,
        /--target-rows and --target-time go together/,
      ],
      [
        ['advise', pipeline, '--target-rate', '100'],
        2,
        /--target-rate plans serving capacity, but none of .* is a serve sweep/,
      ],
      [['advise', serve, '--bogus'], 2, /Unknown option '--bogus'/],
      [['advise', join(dir, 'missing')], 1, /missing: no such file or folder .*\[E_SWEEP_FILE\]/],
      [
        ['advise', join(dir, 'v2')],
        1,
        /v2\/sweep\.json has schema version 3; this mlscale reads versions 1 and 2 \(and writes 2\) \[E_SWEEP_VERSION\]/,
      ],
    ];
    for (const [args, code, re] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
    }
  });
});
