/**
 * `mlscale sweep` and `mlscale demo` as a user runs them: bad grids and flags exit 2 naming the
 * flag, a server that cannot start exits 1 with E_SERVER_UNREACHABLE, a pipeline sweep writes its
 * sweep file and report and prints where they are, and the quick start runs end to end.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSweepFile } from '../../src/analysis/sweep-file.js';
import { runCli, tempDir } from '../helpers.js';
import { sleep, smallModelBytes, writeModel } from '../serve/server/server-fixture.js';
import { packageRoot } from '../../src/util/package-root.js';

/** Pids of `mlscale serve` processes started on `repo`. */
function serversOf(repo: string): number[] {
  const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return ps.stdout
    .split('\n')
    .filter((line) => line.includes(' serve ') && line.includes(repo))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

describe('mlscale sweep (command line)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;

  before(async () => ({ dir, cleanup } = await tempDir('mlscale-sweep-cli-')));
  after(async () => cleanup?.());

  test('should print the usage and exit 2 without a sweep kind', async () => {
    const r = await runCli(['sweep']);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /mlscale sweep serve .*\n.*mlscale sweep pipeline/);
  });

  test('should refuse an unknown sweep kind', async () => {
    const r = await runCli(['sweep', 'gpu']);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /unknown sweep "gpu"; sweeps: serve, pipeline \(see mlscale sweep --help\) \[E_INVALID_OPTION\]/,
    );
  });

  test("should list every flag in each sweep's help", async () => {
    const serve = await runCli(['sweep', 'serve', '--help']);
    assert.equal(serve.code, 0);
    for (const flag of [
      '--model-repository',
      '--replicas',
      '--instances',
      '--max-batch-size',
      '--max-queue-delay-ms',
      '--slo-p99-ms',
      '--point-duration',
      '--out',
    ])
      assert.ok(serve.stdout.includes(flag), flag);
    const pipeline = await runCli(['sweep', 'pipeline', '--help']);
    assert.equal(pipeline.code, 0);
    for (const flag of [
      '--data',
      '--batches',
      '--workers',
      '--executor',
      '--repeats',
      '--statistic',
      '--out',
    ])
      assert.ok(pipeline.stdout.includes(flag), flag);
  });

  const badFlags: [string[], RegExp][] = [
    [
      ['serve', '--model', 'm', '--replicas', '0'],
      /--replicas must list integers from 1 to 64, comma-separated, got 0 in "0"/,
    ],
    [['serve', '--model', 'm', '--replicas', '1,2,1'], /--replicas lists 1 twice in "1,2,1"/],
    [['serve', '--model', 'm', '--instances', 'two'], /--instances must list .*got "two"/],
    [
      ['serve', '--model', 'm', '--max-batch-size', ''],
      /--max-batch-size must list .*got an empty list/,
    ],
    [
      ['serve', '--model', 'm', '--max-batch-size', '1,8', '--rows-per-request', '4'],
      /--max-batch-size 1 is smaller than --rows-per-request 4/,
    ],
    [
      ['serve', '--model', 'm', '--slo-p99-ms', 'fast'],
      /--slo-p99-ms must be a number .*got "fast"/,
    ],
    [
      ['serve', '--model', 'm', '--point-duration', '5 minutes'],
      /--point-duration must be a duration such as 500ms, 30s, 2m, 1\.5h or a bare number of seconds, above zero; got "5 minutes"/,
    ],
    [['serve', '--replicas', '1'], /--model is required/],
    [['serve', '--model', 'm', '--bogus'], /Unknown option '--bogus'/],
    [
      ['pipeline', '--data', 'synthetic:rows=100', '--batches', '0,10'],
      /--batches must list integers from 1 .*got 0/,
    ],
    [
      ['pipeline', '--data', 'synthetic:rows=100', '--batches', '10', '--workers', '1,1'],
      /--workers lists 1 twice/,
    ],
    [
      [
        'pipeline',
        '--data',
        'synthetic:rows=100',
        '--batches',
        '10',
        '--executor',
        'inline',
        '--workers',
        '2',
      ],
      /--workers must be 1 with --executor inline/,
    ],
    [
      ['pipeline', '--data', 'synthetic:rows=10', '--batches', '5,20'],
      /--data synthetic:rows=10 has 10 rows, fewer than --batches 20/,
    ],
    [
      ['pipeline', '--data', 'synthetic:rows=100', '--batches', '10', '--executor', 'bullmq'],
      /--redis is required with --executor bullmq/,
    ],
    [['pipeline', '--batches', '10'], /--data is required/],
    [
      ['pipeline', '--data', 'synthetic:rows=100', '--batches', '10', '--statistic', 'mean'],
      /--statistic must be one of median, fastest, got "mean"/,
    ],
  ];
  for (const [args, message] of badFlags) {
    test(`should exit 2 naming the flag: mlscale sweep ${args.join(' ')}`, async () => {
      const r = await runCli(['sweep', ...args, '--out', join(dir, 'never')]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /\[E_INVALID_OPTION\]\n$/);
      await assert.rejects(access(join(dir, 'never')));
    });
  }

  test('should exit 1 with E_SERVER_UNREACHABLE when the model cannot be served', async () => {
    const repo = join(dir, 'broken');
    await writeModel(repo, 'bad', 1, new Uint8Array([9, 9, 9]));
    const r = await runCli(
      [
        'sweep',
        'serve',
        '--model-repository',
        repo,
        '--model',
        'bad',
        '--point-duration',
        '200ms',
        '--out',
        join(dir, 'never'),
      ],
      { timeoutMs: 90_000 },
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /model "bad" failed to load: .*\[E_SERVER_UNREACHABLE\]/);
  });

  test('should stop the server under test and exit 130 on Ctrl-C', async () => {
    const repo = join(dir, 'interrupted');
    await writeModel(repo, 'small', 1, smallModelBytes());
    const child = spawn(
      process.execPath,
      [
        join(packageRoot(), 'bin', 'mlscale.js'),
        'sweep',
        'serve',
        '--model-repository',
        repo,
        '--model',
        'small',
        '--point-duration',
        '60s',
        '--warmup',
        '0',
        '--out',
        join(dir, 'never'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    try {
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d;
          if (/starting the server/.test(stderr)) resolve();
        });
        void exited.then(() => reject(new Error(`exited early: ${stderr}`)));
      });
      // Let the server come up and the probe start, then interrupt.
      for (let i = 0; i < 300 && serversOf(repo).length === 0; i++) await sleep(100);
      assert.ok(serversOf(repo).length > 0, 'the server under test started');
      await sleep(1500);
      child.kill('SIGINT');
      assert.equal(await exited, 130, stderr);
      assert.match(stderr, /interrupted; the server under test was stopped/);
      assert.deepEqual(serversOf(repo), []);
      await assert.rejects(access(join(dir, 'never')));
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
      for (const pid of serversOf(repo)) process.kill(pid, 'SIGKILL');
    }
  });

  test('should write the sweep file and the report of a pipeline sweep and print where they are', async () => {
    const out = join(dir, 'pipeline');
    const r = await runCli(
      [
        'sweep',
        'pipeline',
        '--data',
        'synthetic:rows=4000,features=4,seed=2',
        '--batches',
        '2,4',
        '--executor',
        'inline',
        '--epochs',
        '1',
        '--out',
        out,
      ],
      { timeoutMs: 120_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /\[run 2\/2\] batches=4 workers=1: /);
    const sweepFile = /sweep file: (.+)\n/.exec(r.stdout)![1]!;
    const report = /report: +(file:\/\/\S+)\n/.exec(r.stdout)![1]!;
    assert.equal(sweepFile, join(out, 'sweep.json'));
    const sweep = await readSweepFile(sweepFile);
    assert.equal(sweep.kind, 'pipeline');
    assert.deepEqual(
      sweep.kind === 'pipeline' && sweep.points.map((p) => [p.batches, p.batchSize]),
      [
        [2, 1000],
        [4, 1000],
      ],
    );
    assert.match(await readFile(fileURLToPath(report), 'utf8'), /<html/i);
  });
});

describe('mlscale demo (the quick start)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;

  before(async () => ({ dir, cleanup } = await tempDir('mlscale-demo-')));
  after(async () => cleanup?.());

  test('should train, serve, load-test, sweep and write the report, printing where it is', async () => {
    // Served under the folder's name, whatever it is.
    const out = join(dir, 'my-model');
    const reportDir = join(dir, 'report');
    const r = await runCli(['demo', '--seconds', '1', '--out', out, '--report', reportDir], {
      timeoutMs: 240_000,
    });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    for (const step of ['1/5 train', '2/5 serve', '3/5 load test', '4/5 sweeps', '5/5 report'])
      assert.ok(r.stdout.includes(step), step);
    assert.match(r.stdout, /latency ms: p50 [\d.]+ +p90 [\d.]+ +p99 [\d.]+ +max [\d.]+/);
    await access(join(out, 'model.onnx'));
    const serve = await readSweepFile(join(reportDir, 'serve'));
    const pipeline = await readSweepFile(join(reportDir, 'pipeline'));
    assert.equal(serve.kind, 'serve');
    // Replicas 1 and 2 × batch limit 8 and 64.
    assert.equal(serve.kind === 'serve' && serve.configs.length, 4);
    // 8, 16, 24, 32 batches × 1 and 2 threads.
    assert.equal(pipeline.kind === 'pipeline' && pipeline.points.length, 8);
    const report = /report: +(file:\/\/\S+)\n/.exec(r.stdout)![1]!;
    assert.match(await readFile(fileURLToPath(report), 'utf8'), /<html/i);
    // The report opens with the findings in plain words, which the demo also prints.
    const md = await readFile(join(reportDir, 'report.md'), 'utf8');
    assert.ok(md.startsWith('# mlscale scaling report\n\n## Findings\n\n- Pipeline time is'), md);
    for (const finding of [
      /^- Pipeline time is (linear|not shown linear)/m,
      /^- Parallelism: 2 workers process [\d,]+ rows\/s against [\d,]+ with 1, a speed-up of [\d.]+x/m,
      /^- Serving: /m,
      /^- Replicas: (2 replicas serve|no comparison)/m,
      /^- Batching: (a batch limit of 64 serves|no comparison)/m,
      /load points (measured the server|were generator-bound)/m,
    ])
      assert.match(md, finding);
    assert.match(r.stdout, /Findings:\n {2}- Pipeline time is/);
  });
});
