/**
 * A tiny real serve sweep over a model and its INT8 variant (short points: it checks what is
 * recorded, not this machine's speed): an artifact folder's variant served with --variant, and a
 * repository's sibling model, both recorded per configuration with what mlscale optimize
 * measured of the variant.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { advise } from '../../src/analysis/advisor.js';
import { readSweepFile, writeSweepFile } from '../../src/analysis/sweep-file.js';
import { resolveServeSweepOptions, sweepServe } from '../../src/analysis/sweep-serve.js';
import { InvalidOptionError } from '../../src/errors.js';
import type { SpeedTable, TimedModel } from '../../src/model/optimize/measure-speed.js';
import { optimizeModel } from '../../src/model/optimize/optimize.js';
import { tempDir } from '../helpers.js';
import { gemmMlp } from '../model/optimize/mlp-models.js';
import { kFeatures } from '../serve/server/server-fixture.js';

/** Every model as fast as the original: whether the variant is written must not depend on timing. */
const equalSpeeds = async (
  models: readonly TimedModel[],
  batchSizes: readonly number[],
): Promise<SpeedTable> =>
  new Map(
    models.map((m) => [
      m.name,
      batchSizes.map((batch) => ({ batch, rowsPerS: 1000, ratio: 1, ratios: [1] })),
    ]),
  );

const quick = {
  replicas: [1],
  instances: [1],
  maxBatchSize: [8],
  sloP99Ms: 250,
  pointDurationMs: 300,
  warmupMs: 0,
  maxPoints: 1,
  probeConnections: 4,
} as const;

describe('sweepServe over model variants', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let folder: string;
  before(async () => {
    ({ dir, cleanup } = await tempDir('mlscale-sweep-variants-'));
    folder = join(dir, 'mlp');
    await mkdir(folder);
    await writeFile(join(folder, 'model.onnx'), gemmMlp([kFeatures, 256, 4], 3, true));
    await optimizeModel(
      {
        model: folder,
        variants: ['int8'],
        int8MinWeights: 0,
        maxAccuracyDrop: 100,
        repeats: 1,
        measureMs: 1,
        agreementRows: 64,
      },
      { measureSpeeds: equalSpeeds },
    );
  });
  after(() => cleanup());

  test('should measure an artifact folder and its --variant on every configuration and record the variant', async () => {
    const lines: string[] = [];
    const sweep = await sweepServe({
      model: folder,
      variants: ['int8'],
      ...quick,
      onProgress: (l) => lines.push(l),
    });
    assert.equal(sweep.schemaVersion, 2);
    assert.equal(sweep.model, 'mlp');
    assert.deepEqual(sweep.models, ['mlp', 'mlp-int8']);
    assert.deepEqual(
      sweep.configs.map((c) => c.config.model),
      ['mlp', 'mlp-int8'],
    );
    assert.ok(sweep.configs.every((c) => c.points.length >= 1));
    const info = sweep.variants![0]!;
    assert.equal(info.model, 'mlp-int8');
    assert.equal(info.variant, 'int8');
    assert.equal(info.of, 'mlp');
    assert.equal(info.quality?.kind, 'agreement');
    assert.ok(info.sizeRatio! > 0 && info.sizeRatio! < 1, String(info.sizeRatio));
    assert.ok(
      lines.some((l) => /^\[config 2\/2\] model=mlp-int8 replicas=1 /.test(l)),
      lines.join('\n'),
    );
    const file = await writeSweepFile(join(dir, 'out'), sweep);
    const read = await readSweepFile(file);
    assert.deepEqual(read, JSON.parse(JSON.stringify(sweep)));
    const a = advise([read]).analyses[0]!;
    assert.ok(a.kind === 'serve');
    assert.equal(a.variants.length, 1);
    assert.match(
      a.statements.join('\n'),
      /Optimising the model: mlp-int8 \(the int8 variant of mlp\) serves/,
    );
  });

  test('should measure a repository model and its sibling variant', async () => {
    const repo = join(dir, 'repo');
    await mkdir(join(repo, 'mlp', '1'), { recursive: true });
    await cp(join(folder, 'model.onnx'), join(repo, 'mlp', '1', 'model.onnx'));
    await mkdir(join(repo, 'mlp-int8', '1'), { recursive: true });
    await cp(join(folder, 'model.int8.onnx'), join(repo, 'mlp-int8', '1', 'model.onnx'));
    await cp(
      join(folder, 'model.int8.metadata.json'),
      join(repo, 'mlp-int8', '1', 'metadata.json'),
    );
    const sweep = await sweepServe({
      modelRepository: repo,
      model: 'mlp',
      variants: ['int8'],
      ...quick,
    });
    assert.deepEqual(
      sweep.configs.map((c) => c.config.model),
      ['mlp', 'mlp-int8'],
    );
    assert.equal(sweep.variants![0]!.variant, 'int8');
  });

  test('should refuse a model named twice and a bad variant name', () => {
    assert.throws(
      () => resolveServeSweepOptions({ model: 'a,a' }),
      (err: unknown) =>
        err instanceof InvalidOptionError &&
        /options.model must name each model once/.test(err.message),
    );
    assert.throws(
      () => resolveServeSweepOptions({ model: 'a', variants: ['INT 8'] }),
      /options.variants must be a comma-separated list of variant names/,
    );
  });
});
