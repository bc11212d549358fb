import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers.js';
import { gemmMlp, noMatmulModel } from '../model/optimize/mlp-models.js';

describe('mlscale optimize', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let model: string;
  before(async () => {
    ({ dir, cleanup } = await tempDir('mlscale-optimize-cli-'));
    model = join(dir, 'mlp.onnx');
    await writeFile(model, gemmMlp([256, 256, 10], 1, true));
    await writeFile(join(dir, 'relu.onnx'), noMatmulModel());
    await writeFile(join(dir, 'table.csv'), 'a,b,label\n1,2,x\n');
    const bytes = gemmMlp([64, 64, 10]);
    await writeFile(join(dir, 'cut.onnx'), bytes.subarray(0, bytes.length >> 1));
  });
  after(() => cleanup());

  test('should print its help, and be listed by mlscale --help', async () => {
    const help = await runCli(['optimize', '--help']);
    assert.equal(help.code, 0);
    for (const flag of [
      '--int8',
      '--fp16',
      '--graph',
      '--int8-ops',
      '--reduce-range',
      '--data',
      '--label',
      '--max-accuracy-drop',
      '--force',
      '--batch-size',
      '--json',
      'With none of the three: every variant that applies',
    ]) {
      assert.ok(help.stdout.includes(flag), `help mentions ${flag}`);
    }
    const main = await runCli(['--help']);
    assert.match(main.stdout, /\n {2}optimize {2}make INT8, FP16 and graph-optimised variants/);
  });

  test('should write the variants it is asked for and report them as JSON', async () => {
    // --force: whether a variant is written must not depend on this machine's speed.
    const r = await runCli([
      'optimize',
      model,
      '--int8',
      '--graph',
      '--repeats',
      '1',
      '--measure-ms',
      '5',
      '--force',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(
      report.variants.map((v: { variant: string; written: boolean }) => [v.variant, v.written]),
      [
        ['int8', true],
        ['graph', true],
      ],
    );
    assert.deepEqual(report.measurement.batchSizes, [1, 64]);
    assert.equal(report.variants[0].target.modelPath, join(dir, 'mlp.int8.onnx'));
    assert.ok(report.variants[0].speed[1].rowsPerS > 0);
    assert.equal(report.variants[0].quality.kind, 'agreement');
  });

  test('should print a table with one row per variant', async () => {
    const r = await runCli([
      'optimize',
      model,
      '--fp16',
      '--repeats',
      '1',
      '--measure-ms',
      '5',
      '--force',
      '--batch-size',
      '16',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /variant +size +rows\/s @1 +rows\/s @16 +load +agreement +written/);
    assert.match(r.stdout, /\noriginal +\d+\.\d KB/);
    assert.match(r.stdout, /\nfp16 +\d+\.\d KB \(0\.5\dx\) .* yes\n/);
    assert.match(r.stdout, /serve it: mlscale serve --model .*mlp\.fp16\.onnx/);
  });

  const cases: {
    name: string;
    args: () => string[];
    code: string;
    message: RegExp;
    exit: number;
  }[] = [
    {
      name: 'no model',
      args: () => ['--int8'],
      code: 'E_INVALID_OPTION',
      message: /which model\? give a \.onnx file or a model folder/,
      exit: 2,
    },
    {
      name: 'two models',
      args: () => [model, '--model', 'x', '--model-repository', dir],
      code: 'E_INVALID_OPTION',
      message: /give the model once/,
      exit: 2,
    },
    {
      name: '--model without a repository',
      args: () => ['--model', model],
      code: 'E_INVALID_OPTION',
      message: /--model NAME goes with --model-repository DIR/,
      exit: 2,
    },
    {
      name: 'an unknown flag',
      args: () => [model, '--int4'],
      code: 'E_INVALID_OPTION',
      message: /Unknown option '--int4'/,
      exit: 2,
    },
    {
      name: 'a bad --int8-ops',
      args: () => [model, '--int8-ops', 'qdq'],
      code: 'E_INVALID_OPTION',
      message: /--int8-ops must be standard or ort, got "qdq"/,
      exit: 2,
    },
    {
      name: 'a bad --reduce-range',
      args: () => [model, '--reduce-range', 'maybe'],
      code: 'E_INVALID_OPTION',
      message: /--reduce-range must be auto, on or off, got "maybe"/,
      exit: 2,
    },
    {
      name: 'a negative --max-accuracy-drop',
      args: () => [model, '--max-accuracy-drop=-1'],
      code: 'E_INVALID_OPTION',
      message: /--max-accuracy-drop must be a number of percentage points from 0 to 100, got -1/,
      exit: 2,
    },
    {
      name: 'a text --batch-size',
      args: () => [model, '--batch-size', 'big'],
      code: 'E_INVALID_OPTION',
      message: /--batch-size must be an integer from 1 to 65536, got "big"/,
      exit: 2,
    },
    {
      name: 'a missing file',
      args: () => [join(dir, 'missing.onnx')],
      code: 'E_MODEL_NOT_FOUND',
      message: /missing\.onnx: no such file or folder/,
      exit: 1,
    },
    {
      name: 'a CSV file',
      args: () => [join(dir, 'table.csv')],
      code: 'E_NOT_ONNX',
      message: /table\.csv is not an ONNX model/,
      exit: 1,
    },
    {
      name: 'a truncated model',
      args: () => [join(dir, 'cut.onnx')],
      code: 'E_ONNX_CORRUPT',
      message: /cut\.onnx starts as an ONNX model but cannot be decoded/,
      exit: 1,
    },
    {
      name: '--int8 of a model without MatMul or Gemm',
      args: () => [join(dir, 'relu.onnx'), '--int8'],
      code: 'E_NOTHING_TO_QUANTIZE',
      message: /relu\.onnx has nothing to quantise: the graph has no MatMul or Gemm node/,
      exit: 1,
    },
  ];
  for (const c of cases) {
    test(`should refuse ${c.name} with ${c.code}`, async () => {
      const r = await runCli(['optimize', ...c.args()]);
      assert.equal(r.code, c.exit, r.stderr);
      assert.match(r.stderr, c.message);
      assert.ok(r.stderr.trimEnd().endsWith(`[${c.code}]`), r.stderr);
    });
  }
});
