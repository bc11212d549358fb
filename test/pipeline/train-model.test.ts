import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { trainModel } from '../../src/pipeline/train-model.js';
import { openSource } from '../../src/data/open-source.js';
import { prepareRows } from '../../src/pipeline/preprocess.js';
import { forwardBatch } from '../../src/model/trainer.js';
import { isHeldOut } from '../../src/data/split.js';
import { tempDir } from '../helpers.js';

const { dir, cleanup } = await tempDir();
after(cleanup);

describe('trainModel', () => {
  test('should reach accuracy above 0.9 on the digits sample with the default settings', async () => {
    const { result, metadata } = await trainModel({
      data: 'sample:digits',
      out: join(dir, 'digits'),
    });
    assert.equal(result.metrics.task, 'classification');
    if (result.metrics.task === 'classification')
      assert.ok(result.metrics.accuracy > 0.9, `accuracy ${result.metrics.accuracy}`);
    assert.equal(result.data.rows, 1797);
    assert.deepEqual(metadata.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });

  test('should write a bitwise-identical model and identical metrics on inline and on 1, 2 and 4 threads', async () => {
    const common = {
      data: 'synthetic:rows=6000,features=12,classes=3,seed=5',
      batchSize: 700,
      syncEvery: 3,
      epochs: 3,
      hidden: [16],
    };
    const runs = [
      { executor: 'inline' as const, workers: 1 },
      { executor: 'threads' as const, workers: 1 },
      { executor: 'threads' as const, workers: 2 },
      { executor: 'threads' as const, workers: 4 },
    ];
    const outputs = [];
    for (const r of runs) {
      const out = join(dir, `det-${r.executor}-${r.workers}`);
      const trained = await trainModel({ ...common, ...r, out });
      outputs.push({
        bytes: await readFile(join(out, 'model.onnx')),
        metrics: trained.result.metrics,
        loss: trained.result.epochLoss,
      });
    }
    for (const o of outputs.slice(1)) {
      assert.ok(o.bytes.equals(outputs[0]!.bytes), 'model.onnx differs between executors');
      assert.deepEqual(o.metrics, outputs[0]!.metrics);
      assert.deepEqual(o.loss, outputs[0]!.loss);
    }
  });

  test('should export a model whose predictions on raw held-out rows match the training-time forward pass', async () => {
    // Numeric and categorical columns, missing values in both, a class label.
    const lines = ['size,colour,weight,shape,label'];
    for (let i = 0; i < 600; i++) {
      const size = i % 17 === 0 ? '' : String((i * 7) % 23);
      const colour = ['red', 'green', 'blue', ''][i % 4];
      const weight = ((i * 13) % 31) / 3;
      const shape = ['round', 'square'][(i >> 2) % 2];
      const label = (Number(size || 0) + weight) % 3 < 1 ? 'a' : colour === 'red' ? 'b' : 'c';
      lines.push(`${size},${colour},${weight.toFixed(3)},${shape},${label}`);
    }
    const csv = join(dir, 'mixed.csv');
    await writeFile(csv, lines.join('\n') + '\n');
    const out = join(dir, 'mixed');
    const { result } = await trainModel({
      data: csv,
      label: 'label',
      out,
      batchSize: 128,
      executor: 'inline',
      epochs: 3,
    });
    const source = openSource(csv);
    const session = await ort.InferenceSession.create(join(out, 'model.onnx'));
    const split = { seed: 42, fraction: 0.2 };
    let compared = 0;
    for await (const batch of source.batches(result.schema, {
      batchRows: 128,
      onBadRow: 'error',
    })) {
      const prepared = prepareRows(batch, result.preprocessing, split, 'heldOut');
      if (prepared.rows === 0) continue;
      const expected = await forwardBatch(result.spec, result.params, prepared.x, prepared.rows);
      // Raw held-out rows: numeric values with NaN for missing, category strings ('' for missing).
      const numCols = result.schema.numeric.length;
      const catCols = result.schema.categorical.length;
      const xs: number[] = [];
      const cats: string[] = [];
      for (let r = 0; r < batch.rowCount; r++) {
        if (!isHeldOut(batch.rowIndex[r]!, split.seed, split.fraction)) continue;
        for (let c = 0; c < numCols; c++) xs.push(batch.numeric[r * numCols + c]!);
        for (let c = 0; c < catCols; c++) {
          const code = batch.catCodes[r * catCols + c]!;
          cats.push(code < 0 ? '' : batch.catDict[code]!);
        }
      }
      const feeds = {
        x: new ort.Tensor('float32', Float32Array.from(xs), [prepared.rows, numCols]),
        x_cat: new ort.Tensor('string', cats, [prepared.rows, catCols]),
      };
      const got = (await session.run(feeds)).probabilities!.data as Float32Array;
      assert.equal(got.length, expected.length);
      for (let i = 0; i < got.length; i++)
        assert.ok(
          Math.abs(got[i]! - expected[i]!) <= 1e-5,
          `probability ${i}: ${got[i]} vs ${expected[i]}`,
        );
      compared += prepared.rows;
    }
    assert.ok(compared > 50, `compared ${compared} held-out rows`);
  });

  test('should train a regression model and report RMSE and R²', async () => {
    const { result } = await trainModel({
      data: 'synthetic:rows=4000,features=6,task=regression,seed=3',
      out: join(dir, 'reg'),
      executor: 'inline',
      epochs: 5,
      batchSize: 1000,
    });
    assert.equal(result.metrics.task, 'regression');
    if (result.metrics.task === 'regression')
      assert.ok(result.metrics.r2 > 0.5, `R² ${result.metrics.r2}`);
  });

  test('should run a user stages module unchanged under inline and threads', async () => {
    const stages = join(process.cwd(), 'examples', 'stages', 'sqrt-counts.js');
    const a = await trainModel({
      data: 'sample:digits',
      out: join(dir, 'st-inline'),
      executor: 'inline',
      stages,
      epochs: 3,
      batchSize: 400,
    });
    const b = await trainModel({
      data: 'sample:digits',
      out: join(dir, 'st-threads'),
      executor: 'threads',
      workers: 2,
      stages,
      epochs: 3,
      batchSize: 400,
    });
    assert.ok(a.result.customMetrics && a.result.customMetrics.top2Accuracy! > 0.9);
    assert.deepEqual(a.result.customMetrics, b.result.customMetrics);
    assert.deepEqual(a.result.metrics, b.result.metrics);
    const bytesA = await readFile(join(dir, 'st-inline', 'model.onnx'));
    const bytesB = await readFile(join(dir, 'st-threads', 'model.onnx'));
    assert.ok(bytesA.equals(bytesB));
    // Per-stage wall times mean the same on both executors: they add up to the phases' wall time.
    for (const { result } of [a, b]) {
      const { phases, stageWall } = result.timings;
      const phaseSum = phases.fit + phases.train + phases.evaluate;
      const stageSum =
        stageWall.preprocess + stageWall.train + stageWall.evaluate + stageWall.other;
      assert.ok(Math.abs(stageSum - phaseSum) < 1e-6, `${stageSum} vs ${phaseSum}`);
      assert.ok(stageWall.train > 0 && stageWall.evaluate > 0);
    }
  });
});
