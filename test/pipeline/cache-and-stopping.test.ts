/**
 * The batch cache and automatic training, end to end: the model is bitwise the same with and
 * without the cache, on every executor and worker count; a kept cache folder is reused; early
 * stopping, the refit and the model choice are the same decisions everywhere.
 */
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { oneStandardErrorRule } from '../../src/pipeline/model-choice.js';
import type { TrainingOptions } from '../../src/pipeline/options.js';
import { addGram, fitRidge, gramOf } from '../../src/pipeline/ridge.js';
import { autoStoppingPolicy, EarlyStopping } from '../../src/pipeline/early-stopping.js';
import { trainModel } from '../../src/pipeline/train-model.js';
import { tempDir } from '../helpers.js';

const { dir, cleanup } = await tempDir();
after(cleanup);

/** A table with quoted fields, categories and missing values, as a user's file has them. */
async function table(name: string, rows: number, gzip = false): Promise<string> {
  const lines = ['size,city,note,weight,label'];
  for (let i = 0; i < rows; i++) {
    const size = i % 17 === 0 ? '' : String((i * 7) % 23);
    const city = ['Paris', 'Lyon', 'NA', '"Nice, Côte"'][i % 4];
    const weight = (((i * 13) % 31) / 3).toFixed(3);
    lines.push(
      `${size},${city},"note ${i % 3}",${weight},${(Number(size || 0) + Number(weight)) % 3 < 1.4 ? 'a' : 'b'}`,
    );
  }
  const text = lines.join('\n') + '\n';
  const path = join(dir, name);
  await writeFile(path, gzip ? gzipSync(text) : text);
  return path;
}

/** Trains and returns the model's bytes, the metrics and what the run reported. */
async function train(name: string, options: Partial<TrainingOptions>) {
  const out = join(dir, name);
  const { result } = await trainModel({ ...options, out });
  return {
    bytes: await readFile(join(out, 'model.onnx')),
    metrics: result.metrics,
    training: result.training,
    cache: result.cache,
  };
}

describe('batch cache', () => {
  test('should train the bitwise-same model with the cache in memory, on disk, mixed and off, inline and on 1 and 2 threads', async () => {
    const data = await table('cache.csv', 3000);
    const common: Partial<TrainingOptions> = {
      data,
      label: 'label',
      batchSize: 256,
      syncEvery: 3,
      epochs: 3,
      hidden: [8],
    };
    const reference = await train('cache-ref', { ...common, executor: 'inline', cache: 'none' });
    const runs: [string, Partial<TrainingOptions>][] = [
      ['inline auto', { executor: 'inline' }],
      ['inline disk', { executor: 'inline', cache: 'disk' }],
      ['threads 1', { executor: 'threads', workers: 1 }],
      ['threads 2', { executor: 'threads', workers: 2 }],
      ['threads 2 disk', { executor: 'threads', workers: 2, cache: 'disk' }],
      ['threads 2 mixed', { executor: 'threads', workers: 2, cacheMemory: 200_000 }],
      ['threads 2 no cache', { executor: 'threads', workers: 2, cache: 'none' }],
    ];
    for (const [name, options] of runs) {
      const run = await train(`cache-${name.replace(/ /g, '-')}`, { ...common, ...options });
      assert.ok(run.bytes.equals(reference.bytes), `${name}: model.onnx differs`);
      assert.deepEqual(run.metrics, reference.metrics, name);
      if (name.endsWith('mixed'))
        assert.ok(
          run.cache.memoryBytes <= 200_000 && run.cache.totalBytes > run.cache.memoryBytes,
          `${name}: ${JSON.stringify(run.cache)}`,
        );
      if (name.includes('disk')) assert.equal(run.cache.memoryBytes, 0);
    }
  });

  test('should train the same model from a gzip file as from the file itself, on threads', async () => {
    const plain = await table('same.csv', 1500);
    const packed = await table('same.csv.gz', 1500, true);
    const common: Partial<TrainingOptions> = {
      label: 'label',
      batchSize: 200,
      epochs: 2,
      hidden: [8],
      executor: 'threads',
      workers: 2,
    };
    const a = await train('gz-plain', { ...common, data: plain });
    const b = await train('gz-packed', { ...common, data: packed });
    assert.ok(a.bytes.equals(b.bytes));
  });

  test('should keep a named cache folder and read it, not the text, on the next run with the same data and settings', async () => {
    const data = await table('kept.csv', 2000);
    const cacheDir = join(dir, 'kept-cache');
    const common: Partial<TrainingOptions> = {
      data,
      label: 'label',
      batchSize: 300,
      epochs: 2,
      hidden: [8],
      executor: 'threads',
      workers: 2,
      cacheDir,
    };
    const first = await train('kept-1', common);
    assert.equal(first.cache.reused, false);
    const [key] = await readdir(cacheDir);
    assert.ok((await readdir(join(cacheDir, key!))).includes('complete.json'));
    const second = await train('kept-2', common);
    assert.equal(second.cache.reused, true);
    assert.ok(second.bytes.equals(first.bytes));
    // Another batch size is another key: read from the text again.
    const third = await train('kept-3', { ...common, batchSize: 500 });
    assert.equal(third.cache.reused, false);
    assert.equal((await readdir(cacheDir)).length, 2);
  });
});

describe('automatic epochs and model', () => {
  test('should stop, refit and choose the model identically inline and on 2 threads, and say why it stopped', async () => {
    const data = await table('auto.csv', 1200);
    const common: Partial<TrainingOptions> = { data, label: 'label', batchSize: 128, hidden: [8] };
    const inline = await train('auto-inline', { ...common, executor: 'inline' });
    const threads = await train('auto-threads', { ...common, executor: 'threads', workers: 2 });
    assert.ok(threads.bytes.equals(inline.bytes));
    assert.deepEqual(threads.training, inline.training);
    const t = inline.training;
    assert.equal(t.asked, 'auto');
    assert.equal(t.validationFraction, 0.2);
    assert.ok(t.selectionEpochs! >= t.epochs, JSON.stringify(t));
    assert.match(t.stopReason, /did not improve|most epochs/);
    assert.ok(t.modelChoice && t.modelChoice.families.join() === 'linear,mlp');
  });

  test('should keep the best epoch of a large table (no refit, a 10% slice) and run fixed epochs when asked', async () => {
    const policy = autoStoppingPolicy(1_600_000);
    assert.deepEqual(
      [policy.refit, policy.validationFraction, policy.maxEpochs, policy.patience],
      [false, 0.1, 13, 2],
    );
    const small = autoStoppingPolicy(455);
    assert.deepEqual(
      [small.refit, small.validationFraction, small.maxEpochs, small.patience],
      [true, 0.2, 500, 20],
    );
    const fixed = await train('fixed', {
      data: 'synthetic:rows=2000,features=6,classes=2,seed=3',
      epochs: 3,
      executor: 'inline',
    });
    assert.equal(fixed.training.epochs, 3);
    assert.match(fixed.training.stopReason, /3 epochs asked for/);
  });

  test('should stop after `patience` epochs without improvement, halve the learning rate half-way, and remember the best epoch', () => {
    const stopping = new EarlyStopping({
      validationFraction: 0.1,
      refit: false,
      maxEpochs: 100,
      patience: 4,
      reduceAfter: 2,
      tolerance: 1e-4,
    });
    const decisions = [1.0, 0.8, 0.79995, 0.81, 0.82, 0.83].map((loss) => stopping.observe(loss));
    assert.deepEqual(
      decisions.map((d) => [d.improved, d.learningRateFactor, d.stop]),
      [
        [true, 1, false],
        [true, 1, false],
        [false, 1, false], // below the tolerance
        [false, 0.5, false],
        [false, 1, false],
        [false, 0.5, true],
      ],
    );
    assert.equal(stopping.bestEpoch, 1);
  });
});

describe('exact linear regression and the model choice', () => {
  test('should solve ridge regression from summed batches as from all rows at once', () => {
    // y = 2 x0 - 3 x1 + 0.5, no noise: the solve with a tiny penalty recovers it.
    const rows = 200;
    const x = new Float32Array(rows * 2);
    const y = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      x[r * 2] = Math.sin(r);
      x[r * 2 + 1] = Math.cos(r * 0.7);
      y[r] = 2 * x[r * 2]! - 3 * x[r * 2 + 1]! + 0.5;
    }
    const whole = gramOf(x, y, rows, 2);
    const halves = addGram(
      gramOf(x.subarray(0, 200), y.subarray(0, 100), 100, 2),
      gramOf(x.subarray(200), y.subarray(100), 100, 2),
    );
    // The same sums, up to the order of float64 additions.
    halves.gram.forEach((v, i) =>
      assert.ok(Math.abs(v - whole.gram[i]!) <= 1e-9 * Math.max(1, Math.abs(v)), `gram[${i}]`),
    );
    const fit = fitRidge(halves, gramOf(new Float32Array(0), new Float32Array(0), 0, 2), 1e-9);
    assert.deepEqual(
      [...fit.params[0]!].map((v) => Number(v.toFixed(4))),
      [2, -3],
    );
    assert.equal(Number(fit.params[1]![0]!.toFixed(4)), 0.5);
  });

  test('should keep the second model only when it is better by more than one standard error', () => {
    // 100 rows, mean difference -0.1: clearly better when the differences vary little.
    assert.equal(oneStandardErrorRule(100, -10, 100 * 0.1 ** 2 + 99 * 0.01).second, true);
    // The same mean with widely varying differences: not clear enough.
    assert.equal(oneStandardErrorRule(100, -10, 100 * 4).second, false);
    assert.equal(oneStandardErrorRule(1, -5, 25).second, false);
  });
});
