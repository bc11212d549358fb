import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers.js';

const { dir, cleanup } = await tempDir();
after(cleanup);

async function csv(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** Rows a,b,label with two classes. */
function goodRows(n: number): string {
  return Array.from(
    { length: n },
    (_, i) => `${i % 5},${(i * 3) % 7},${i % 2 ? 'yes' : 'no'}`,
  ).join('\n');
}

/** No artifact folder, nor a temporary one, is left at or beside `out`. */
async function assertNoArtifact(out: string): Promise<void> {
  assert.equal(existsSync(out), false, `${out} exists`);
  const left = (await readdir(dir)).filter((f) => f.includes('.tmp-'));
  assert.deepEqual(left, []);
}

describe('mlscale train (command line)', () => {
  test('should train, print a summary and write model.onnx and metadata.json', async () => {
    const out = join(dir, 'ok');
    const r = await runCli([
      'train',
      '--data',
      'sample:digits',
      '--out',
      out,
      '--epochs',
      '2',
      '--executor',
      'inline',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /accuracy \d\.\d{4}/);
    assert.match(r.stdout, /executor\s+inline/);
    const metadata = JSON.parse(await readFile(join(out, 'metadata.json'), 'utf8'));
    assert.equal(metadata.format, 'mlscale-model/1');
    assert.deepEqual(metadata.inputs[0], { name: 'x', datatype: 'FP32', shape: [-1, 64] });
  });

  test('should print a machine-readable summary with --json', async () => {
    const r = await runCli([
      'train',
      '--data',
      'sample:digits',
      '--out',
      join(dir, 'json'),
      '--epochs',
      '1',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.metrics.task, 'classification');
    assert.equal(summary.executor.kind, 'threads');
    assert.equal(r.stderr, '');
  });

  const cases: {
    name: string;
    args: () => Promise<string[]>;
    code: string;
    message: RegExp;
    exit?: number;
  }[] = [
    {
      name: 'a missing file',
      args: async () => ['--data', join(dir, 'nope.csv'), '--label', 'x'],
      code: 'E_DATA_NOT_FOUND',
      message: /nope\.csv/,
    },
    {
      name: 'an empty file',
      args: async () => ['--data', await csv('empty.csv', ''), '--label', 'x'],
      code: 'E_DATA_EMPTY',
      message: /empty\.csv/,
    },
    {
      name: 'a wrong label column, listing the columns',
      args: async () => [
        '--data',
        await csv('cols.csv', 'a,b,label\n' + goodRows(20)),
        '--label',
        'churned',
      ],
      code: 'E_LABEL_NOT_FOUND',
      message: /churned.*a, b, label|churned[\s\S]*"a"[\s\S]*"b"/,
    },
    {
      name: 'a row with the wrong number of fields, with file:line',
      args: async () => [
        '--data',
        await csv('fields.csv', 'a,b,label\n' + goodRows(10) + '\n1,2\n' + goodRows(10)),
        '--label',
        'label',
      ],
      code: 'E_DATA_PARSE',
      message: /fields\.csv:12\b/,
    },
    {
      name: 'a non-numeric value in a numeric column, with file:line and column',
      // Past the 10,000 rows that schema inference samples, so column b is known to be numeric.
      args: async () => [
        '--data',
        await csv('text.csv', 'a,b,label\n' + goodRows(10_030) + '\n4,seven,yes\n'),
        '--label',
        'label',
      ],
      code: 'E_DATA_VALUE',
      message: /text\.csv:10032\b.*"?b"?/,
    },
    {
      name: 'an Infinity literal',
      args: async () => [
        '--data',
        await csv('inf.csv', 'a,b,label\n' + goodRows(5) + '\nInfinity,1,yes\n'),
        '--label',
        'label',
      ],
      code: 'E_DATA_VALUE',
      message: /inf\.csv:7\b/,
    },
    {
      name: 'one class only',
      args: async () => [
        '--data',
        await csv(
          'one.csv',
          'a,b,label\n' + Array.from({ length: 40 }, (_, i) => `${i},${i},same`).join('\n'),
        ),
        '--label',
        'label',
      ],
      code: 'E_SINGLE_CLASS',
      message: /one class only/,
    },
    {
      name: 'an unknown executor',
      args: async () => ['--executor', 'gpu'],
      code: 'E_INVALID_OPTION',
      message: /--executor must be one of inline, threads, bullmq, got "gpu"/,
      exit: 2,
    },
    {
      name: 'a non-numeric --epochs',
      args: async () => ['--epochs', 'ten'],
      code: 'E_INVALID_OPTION',
      message: /--epochs must be an integer from 1 to 100000, got "ten"/,
      exit: 2,
    },
    {
      name: 'an unknown flag',
      args: async () => ['--epoch', '3'],
      code: 'E_INVALID_OPTION',
      message: /--epoch/,
      exit: 2,
    },
    {
      name: 'a bad synthetic spec',
      args: async () => ['--data', 'synthetic:rows=-4'],
      code: 'E_INVALID_OPTION',
      message: /rows/,
      exit: 2,
    },
    {
      name: 'a missing stages module',
      args: async () => ['--stages', join(dir, 'none.js')],
      code: 'E_STAGES_MODULE',
      message: /none\.js/,
    },
  ];
  for (const c of cases) {
    test(`should reject ${c.name} with a clear message, a code, a non-zero exit and no artifact`, async () => {
      const out = join(dir, 'bad-' + c.name.replace(/\W+/g, '-'));
      const args = await c.args();
      const epochs = args.includes('--epochs') ? [] : ['--epochs', '1'];
      const r = await runCli(['train', ...args, ...epochs, '--out', out]);
      assert.equal(r.code, c.exit ?? 1, `exit ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`\\[${c.code}\\]`));
      assert.match(r.stderr, c.message);
      assert.doesNotMatch(r.stderr, /unexpected error|    at /);
      await assertNoArtifact(out);
    });
  }

  test('should skip and count bad rows with --on-bad-row skip', async () => {
    const data = await csv(
      'skip.csv',
      'a,b,label\n' + goodRows(10_050) + '\n1,2\n4,seven,yes\n' + goodRows(50) + '\n',
    );
    const out = join(dir, 'skip');
    const r = await runCli([
      'train',
      '--data',
      data,
      '--label',
      'label',
      '--out',
      out,
      '--epochs',
      '1',
      '--on-bad-row',
      'skip',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).data.skippedRows, 2);
    const metadata = JSON.parse(await readFile(join(out, 'metadata.json'), 'utf8'));
    assert.equal(metadata.data.skippedRows, 2);
    assert.equal(metadata.data.rows, 10_100);
  });

  test('should refuse to overwrite a folder that is not a model artifact', async () => {
    const out = join(dir, 'precious');
    await mkdir(out);
    await writeFile(join(out, 'notes.txt'), 'keep me');
    const r = await runCli(['train', '--data', 'sample:digits', '--out', out, '--epochs', '1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /E_ARTIFACT/);
    assert.equal(await readFile(join(out, 'notes.txt'), 'utf8'), 'keep me');
  });
});
