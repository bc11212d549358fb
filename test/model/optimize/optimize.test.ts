import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import {
  InvalidOptionError,
  ModelNotFoundError,
  NothingToQuantizeError,
} from '../../../src/errors.js';
import type { SpeedTable, TimedModel } from '../../../src/model/optimize/measure-speed.js';
import { optimizeModel, type OptimizeHooks } from '../../../src/model/optimize/optimize.js';
import { trainModel } from '../../../src/pipeline/train-model.js';
import { tempDir } from '../../helpers.js';
import { gemmMlp, noMatmulModel } from './mlp-models.js';

/**
 * Speeds injected in place of timing (no test may depend on the machine's speed): each variant
 * at `ratios[kind]` × the original's 1000 rows/s, at every batch size.
 */
function injected(ratios: Record<string, number | number[]>): OptimizeHooks {
  return {
    measureSpeeds: async (
      models: readonly TimedModel[],
      batchSizes: readonly number[],
    ): Promise<SpeedTable> =>
      new Map(
        models.map((m) => {
          const per = [ratios[m.name] ?? 1].flat();
          const mid = [...per].sort((a, b) => a - b)[per.length >> 1]!;
          return [
            m.name,
            batchSizes.map((batch) => ({ batch, rowsPerS: 1000 * mid, ratio: mid, ratios: per })),
          ];
        }),
      ),
  };
}

const fast = { repeats: 1, measureMs: 1, agreementRows: 64 } as const;

describe('optimizeModel', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let digits: string;
  before(async () => {
    ({ dir, cleanup } = await tempDir('mlscale-optimize-'));
    digits = join(dir, 'digits');
    await trainModel({
      data: 'sample:digits',
      out: digits,
      executor: 'inline',
      epochs: 2,
      hidden: [32],
    });
  });
  after(() => cleanup());

  test('should write every variant of a .onnx file beside it, each with metadata naming its source by hash', async () => {
    const path = join(dir, 'wide.onnx');
    const bytes = gemmMlp([256, 512, 512, 10], 1, true);
    await writeFile(path, bytes);
    const r = await optimizeModel(
      { model: path, ...fast, maxAccuracyDrop: 100 },
      injected({ int8: 2, fp16: 1, graph: 1 }),
    );
    assert.deepEqual(
      r.variants.map((v) => [v.variant, v.written]),
      [
        ['int8', true],
        ['fp16', true],
        ['graph', true],
      ],
    );
    const files = (await readdir(dir)).filter((f) => f.startsWith('wide.')).sort();
    assert.deepEqual(files, [
      'wide.fp16.metadata.json',
      'wide.fp16.onnx',
      'wide.graph.metadata.json',
      'wide.graph.onnx',
      'wide.int8.metadata.json',
      'wide.int8.onnx',
      'wide.onnx',
    ]);
    const meta = JSON.parse(await readFile(join(dir, 'wide.int8.metadata.json'), 'utf8'));
    assert.equal(meta.variant, 'int8');
    assert.equal(meta.optimization.source.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(meta.optimization.source.path, path);
    assert.deepEqual(
      meta.optimization.details.layers.map((l: { quantized: boolean }) => l.quantized),
      [true, true, false],
    );
    assert.match(
      meta.optimization.details.layers[2].reason,
      /512 × 10 = 5120 weights, under the 65536/,
    );
    assert.equal(meta.optimization.measured.speed[1].ratio, 2);
    assert.equal(meta.optimization.measured.quality.kind, 'agreement');
    assert.equal(
      meta.optimization.measurement.onnxruntime,
      ort.env.versions.node ?? ort.env.versions.common,
    );
    assert.ok(meta.optimization.measurement.machine.cpus >= 1);
    assert.ok((await stat(join(dir, 'wide.int8.onnx'))).size < 0.3 * bytes.length);
    // Every written variant loads and runs.
    for (const v of ['int8', 'fp16', 'graph']) {
      const s = await ort.InferenceSession.create(join(dir, `wide.${v}.onnx`));
      const out = await s.run({ x: new ort.Tensor('float32', new Float32Array(256), [1, 256]) });
      assert.deepEqual(out.y!.dims, [1, 10]);
      await s.release();
    }
  });

  test('should not write a variant measured slower than the original, unless forced', async () => {
    const path = join(dir, 'slow.onnx');
    await writeFile(path, gemmMlp([256, 256, 10], 2, true));
    const r = await optimizeModel(
      {
        model: path,
        variants: ['int8', 'graph'],
        ...fast,
        maxAccuracyDrop: 100,
        out: join(dir, 'slow-out'),
      },
      injected({ int8: 0.5, graph: 0.96 }),
    );
    const int8 = r.variants.find((v) => v.variant === 'int8')!;
    assert.equal(int8.written, false);
    assert.match(
      int8.verdict,
      /^not written: it is slower than the original at batch 64 \(0\.50x rows\/s\); --force writes it anyway$/,
    );
    // 0.96x is within the noise band (≥ 0.95x): not called slower.
    assert.equal(r.variants.find((v) => v.variant === 'graph')!.written, true);
    assert.deepEqual((await readdir(join(dir, 'slow-out'))).sort(), [
      'slow.graph.metadata.json',
      'slow.graph.onnx',
    ]);
    // Slower by the median but faster in one repeat: noise, not a slower variant.
    const mixed = await optimizeModel(
      {
        model: path,
        variants: ['int8'],
        ...fast,
        maxAccuracyDrop: 100,
        out: join(dir, 'slow-out'),
      },
      injected({ int8: [0.7, 0.8, 1.02] }),
    );
    assert.equal(mixed.variants[0]!.written, true);
    const forced = await optimizeModel(
      {
        model: path,
        variants: ['int8'],
        ...fast,
        maxAccuracyDrop: 100,
        force: true,
        out: join(dir, 'slow-out'),
      },
      injected({ int8: 0.5 }),
    );
    assert.equal(forced.variants[0]!.written, true);
    assert.match(forced.variants[0]!.verdict, /written \(--force\) although it/);
  });

  test("should score an mlscale model on its training run's held-out rows, as training did, and refuse an accuracy drop beyond the limit", async () => {
    const training = JSON.parse(await readFile(join(digits, 'metadata.json'), 'utf8'));
    const r = await optimizeModel(
      {
        model: digits,
        variants: ['int8', 'fp16'],
        int8MinWeights: 0,
        data: 'sample:digits',
        ...fast,
      },
      injected({ int8: 1.5, fp16: 1 }),
    );
    // The same rows and the same model as the training run's evaluation: the same accuracy.
    assert.equal(r.model.score!.rows, training.metrics.rows);
    assert.ok(
      Math.abs(r.model.score!.value - training.metrics.accuracy) < 1e-9,
      `${r.model.score!.value} vs ${training.metrics.accuracy}`,
    );
    assert.match(
      r.model.score!.split,
      /held-out rows of the training split \(seed 42, fraction 0\.2\)/,
    );
    const int8 = r.variants.find((v) => v.variant === 'int8')!;
    assert.equal(int8.quality?.kind, 'data');
    assert.ok(
      int8.quality!.kind === 'data' && Math.abs(int8.quality.drop) < 5,
      `drop ${int8.quality && (int8.quality as { drop: number }).drop}`,
    );
    // The preprocessing constants stay FP32 in the FP16 variant.
    const fp16 = r.variants.find((v) => v.variant === 'fp16')!;
    assert.ok(fp16.details?.kind === 'fp16');
    assert.deepEqual(
      fp16.details.tensors
        .filter((t) => !t.converted)
        .map((t) => t.name)
        .sort(),
      ['pre_mean', 'pre_std'],
    );
    // A limit below the measured drop refuses the variant; the folder keeps only what passed.
    const strict = await optimizeModel(
      {
        model: digits,
        variants: ['int8'],
        int8MinWeights: 0,
        data: 'sample:digits',
        maxAccuracyDrop: 0,
        ...fast,
      },
      injected({ int8: 1.5 }),
    );
    const drop = (strict.variants[0]!.quality as { drop: number }).drop;
    assert.equal(strict.variants[0]!.written, drop <= 0, `drop ${drop}`);
    if (drop > 0)
      assert.match(
        strict.variants[0]!.verdict,
        /loses [\d.]+ points of accuracy \(more than --max-accuracy-drop 0\)/,
      );
    const meta = JSON.parse(await readFile(join(digits, 'model.int8.metadata.json'), 'utf8'));
    assert.deepEqual(meta.schema, training.schema);
    assert.equal(
      meta.metrics,
      undefined,
      "the FP32 model's training metrics are not the variant's",
    );
    assert.equal(meta.optimization.measured.quality.split, r.model.score!.split);
  });

  test("should write a repository model's variant as a sibling model with the same version and its config.json", async () => {
    const repo = join(dir, 'repo');
    await mkdir(join(repo, 'digits', '3'), { recursive: true });
    await cp(digits, join(repo, 'digits', '3'), { recursive: true });
    await writeFile(join(repo, 'digits', 'config.json'), JSON.stringify({ max_batch_size: 32 }));
    const r = await optimizeModel(
      { model: 'digits', modelRepository: repo, variants: ['fp16'], ...fast },
      injected({ fp16: 1 }),
    );
    assert.equal(r.variants[0]!.written, true);
    assert.deepEqual((await readdir(join(repo, 'digits-fp16', '3'))).sort(), [
      'metadata.json',
      'model.onnx',
    ]);
    assert.deepEqual(JSON.parse(await readFile(join(repo, 'digits-fp16', 'config.json'), 'utf8')), {
      max_batch_size: 32,
    });
    assert.match(r.variants[0]!.target!.serveWith, /model "digits-fp16"/);
  });

  test('should say int8 does not apply to a model with nothing to quantise when no variant is named, and refuse it when --int8 is', async () => {
    const path = join(dir, 'relu.onnx');
    await writeFile(path, noMatmulModel());
    const r = await optimizeModel({ model: path, ...fast }, injected({}));
    const int8 = r.variants.find((v) => v.variant === 'int8')!;
    assert.equal(int8.applicable, false);
    assert.match(
      int8.verdict,
      /does not apply: nothing to quantise: the graph has no MatMul or Gemm node/,
    );
    await assert.rejects(
      optimizeModel({ model: path, variants: ['int8'], ...fast }, injected({})),
      NothingToQuantizeError,
    );
  });

  test('should say a model whose layers are all too small has no layer worth quantising', async () => {
    const r = await optimizeModel({ model: digits, variants: ['int8'], ...fast }, injected({}));
    assert.equal(r.variants[0]!.applicable, false);
    assert.match(
      r.variants[0]!.verdict,
      /no layer is worth quantising: all 2 MatMul\/Gemm layers .* \(the largest is 64 × 32; under 65536 weights.*--int8-min-weights 0 quantises them anyway\)/,
    );
  });

  test('should refuse bad options and missing models with coded errors', async () => {
    await assert.rejects(optimizeModel({ model: join(dir, 'missing.onnx') }), ModelNotFoundError);
    await assert.rejects(
      optimizeModel({ model: 'nope', modelRepository: join(dir, 'repo') }),
      /model "nope" is not in the repository/,
    );
    await assert.rejects(
      optimizeModel({ model: digits, batchSize: 0 }),
      (err: unknown) =>
        err instanceof InvalidOptionError &&
        /options.batchSize must be an integer from 1 to 65536, got 0/.test(err.message),
    );
    await assert.rejects(
      optimizeModel({ model: digits, label: 'digit' }),
      /options.label goes with options.data/,
    );
    await assert.rejects(
      optimizeModel({ model: digits, out: join(dir, 'x') }),
      /options.out applies to a \.onnx file/,
    );
  });
});
