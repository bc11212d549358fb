import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ShapeError, TrainingDivergedError } from '../../src/errors.js';
import { createOptimizerState, type OptimizerConfig } from '../../src/model/optimizers.js';
import { initParameters, parameterShapes } from '../../src/model/parameters.js';
import { Prng } from '../../src/model/prng.js';
import { clearSessionCache } from '../../src/model/session.js';
import type { ModelSpec } from '../../src/model/spec.js';
import { forwardBatch, trainOnBatch, type TrainOnBatchArgs } from '../../src/model/trainer.js';
import { assertClose, randomArray, randomTargets, smallSpec } from './helpers.js';
import { refForwardOutput, refLoss } from './reference.js';

const adam: OptimizerConfig = { kind: 'adam', learningRate: 0.02, momentum: 0, l2: 1e-4 };

/** Three Gaussian blobs in 2-D, one-hot labels. */
function blobs(rows: number, seed: number): { x: Float32Array; y: Float32Array; labels: number[] } {
  const rng = new Prng(seed);
  const centres = [
    [-2, 0],
    [2, 0],
    [0, 2.5],
  ];
  const x = new Float32Array(rows * 2);
  const y = new Float32Array(rows * 3);
  const labels: number[] = [];
  for (let r = 0; r < rows; r++) {
    const c = r % 3;
    x[2 * r] = centres[c]![0]! + 0.5 * rng.normal();
    x[2 * r + 1] = centres[c]![1]! + 0.5 * rng.normal();
    y[3 * r + c] = 1;
    labels.push(c);
  }
  return { x, y, labels };
}

function accuracy(probs: Float32Array, labels: number[], classes: number): number {
  let hits = 0;
  labels.forEach((label, r) => {
    const row = Array.from(probs.subarray(r * classes, (r + 1) * classes));
    if (row.indexOf(Math.max(...row)) === label) hits += 1;
  });
  return hits / labels.length;
}

async function fit(args: Omit<TrainOnBatchArgs, 'seed'>, epochs: number): Promise<number> {
  let last = Infinity;
  for (let e = 0; e < epochs; e++) {
    const result = await trainOnBatch({ ...args, seed: 100 + e });
    last = result.lossSum / result.rows;
  }
  return last;
}

describe('trainOnBatch', () => {
  after(() => clearSessionCache());

  test('should give bitwise-identical parameters and state from the same inputs', async () => {
    const spec: ModelSpec = { ...smallSpec('mlp', 'classification', 'relu', [16]), inputs: 10 };
    const rng = new Prng(31);
    const rows = 300;
    const x = randomArray(rng, rows * spec.inputs);
    const y = randomTargets(rng, spec, rows);
    const run = async (): Promise<unknown> => {
      const params = initParameters(spec, 1);
      const optState = createOptimizerState('adam', parameterShapes(spec));
      const result = await trainOnBatch({
        spec,
        params,
        optState,
        optimizer: adam,
        x,
        y,
        rows,
        minibatch: 32,
        seed: 5,
      });
      return {
        params: result.params,
        optState: result.optState,
        lossSum: result.lossSum,
        steps: result.steps,
      };
    };
    const first = await run();
    assert.deepEqual(await run(), first);
  });

  test('should walk every row once in minibatches, the last one shorter', async () => {
    // With a zero learning rate the parameters stay put, so the minibatch losses weighted by
    // their row counts must add up to the loss over all rows.
    const spec = smallSpec('mlp', 'regression', 'tanh');
    const rng = new Prng(8);
    const rows = 10;
    const x = randomArray(rng, rows * spec.inputs);
    const y = randomTargets(rng, spec, rows);
    const params = initParameters(spec, 3);
    const before = params.map((p) => p.slice());
    const optState = createOptimizerState('sgd', parameterShapes(spec));
    const optimizer: OptimizerConfig = { kind: 'sgd', learningRate: 0, momentum: 0, l2: 0 };
    const result = await trainOnBatch({
      spec,
      params,
      optState,
      optimizer,
      x,
      y,
      rows,
      minibatch: 4,
      seed: 1,
    });
    assert.equal(result.steps, 3);
    assert.equal(result.rows, rows);
    assert.equal(optState.step, 3);
    assert.deepEqual(params, before);
    assertClose(
      [result.lossSum],
      [refLoss(spec, params, x, y, rows) * rows],
      1e-6,
      1e-5,
      'lossSum',
    );
  });

  test('should learn three blobs to high accuracy with Adam', async () => {
    const spec: ModelSpec = {
      family: 'mlp',
      task: 'classification',
      inputs: 2,
      outputs: 3,
      hidden: [16],
      activation: 'relu',
    };
    const { x, y, labels } = blobs(600, 4);
    const params = initParameters(spec, 2);
    const optState = createOptimizerState('adam', parameterShapes(spec));
    await fit({ spec, params, optState, optimizer: adam, x, y, rows: 600, minibatch: 32 }, 5);
    const acc = accuracy(await forwardBatch(spec, params, x, 600), labels, 3);
    assert.ok(acc > 0.95, `accuracy ${acc}`);
  });

  test('should learn XOR with a tanh MLP and momentum SGD', async () => {
    const spec: ModelSpec = {
      family: 'mlp',
      task: 'classification',
      inputs: 2,
      outputs: 2,
      hidden: [8],
      activation: 'tanh',
    };
    const rng = new Prng(12);
    const rows = 800;
    const x = randomArray(rng, rows * 2);
    const y = new Float32Array(rows * 2);
    const labels: number[] = [];
    for (let r = 0; r < rows; r++) {
      const label = x[2 * r]! * x[2 * r + 1]! > 0 ? 1 : 0;
      labels.push(label);
      y[2 * r + label] = 1;
    }
    const params = initParameters(spec, 6);
    const optState = createOptimizerState('sgd', parameterShapes(spec));
    const optimizer: OptimizerConfig = { kind: 'sgd', learningRate: 0.1, momentum: 0.9, l2: 0 };
    await fit({ spec, params, optState, optimizer, x, y, rows, minibatch: 16 }, 8);
    const acc = accuracy(await forwardBatch(spec, params, x, rows), labels, 2);
    assert.ok(acc > 0.9, `accuracy ${acc}`);
  });

  test('should fit a linear regression', async () => {
    const spec: ModelSpec = {
      family: 'linear',
      task: 'regression',
      inputs: 3,
      outputs: 1,
      hidden: [],
      activation: 'relu',
    };
    const rng = new Prng(13);
    const rows = 500;
    const x = randomArray(rng, rows * 3);
    const y = new Float32Array(rows);
    for (let r = 0; r < rows; r++)
      y[r] = 0.8 * x[3 * r]! - 0.5 * x[3 * r + 1]! + 0.3 + 0.01 * rng.normal();
    const params = initParameters(spec, 1);
    const optState = createOptimizerState('adam', parameterShapes(spec));
    const loss = await fit(
      { spec, params, optState, optimizer: { ...adam, l2: 0 }, x, y, rows, minibatch: 25 },
      15,
    );
    assert.ok(loss < 1e-3, `loss ${loss}`);
    assertClose(params[0]!, [0.8, -0.5, 0], 0.03, 0, 'weights');
    assertClose(params[1]!, [0.3], 0.03, 0, 'bias');
  });

  test('should reject mismatched sizes with ShapeError', async () => {
    const spec = smallSpec('linear', 'regression');
    const params = initParameters(spec, 1);
    const optState = createOptimizerState('sgd', parameterShapes(spec));
    const base = {
      spec,
      params,
      optState,
      optimizer: adam,
      y: new Float32Array(2),
      rows: 2,
      minibatch: 1,
      seed: 0,
    };
    await assert.rejects(trainOnBatch({ ...base, x: new Float32Array(3) }), ShapeError);
    await assert.rejects(
      trainOnBatch({ ...base, x: new Float32Array(8), minibatch: 0 }),
      ShapeError,
    );
    await assert.rejects(
      trainOnBatch({ ...base, x: new Float32Array(8), params: [params[0]!] }),
      ShapeError,
    );
  });

  test('should reject with TrainingDivergedError when the loss stops being finite', async () => {
    const spec = smallSpec('linear', 'regression');
    const rng = new Prng(2);
    const params = initParameters(spec, 1);
    const optState = createOptimizerState('sgd', parameterShapes(spec));
    const optimizer: OptimizerConfig = { kind: 'sgd', learningRate: 1e30, momentum: 0, l2: 0 };
    const x = randomArray(rng, 40 * spec.inputs, 10);
    const y = randomTargets(rng, spec, 40);
    await assert.rejects(
      trainOnBatch({ spec, params, optState, optimizer, x, y, rows: 40, minibatch: 4, seed: 0 }),
      TrainingDivergedError,
    );
  });
});

describe('forwardBatch', () => {
  after(() => clearSessionCache());

  test('should match the reference forward pass', async () => {
    const spec = smallSpec('mlp', 'classification', 'tanh');
    const rng = new Prng(40);
    const params = initParameters(spec, 4);
    const x = randomArray(rng, 6 * spec.inputs);
    assertClose(
      await forwardBatch(spec, params, x, 6),
      refForwardOutput(spec, params, x, 6).data,
      1e-6,
      1e-5,
      'output',
    );
  });

  test('should return an empty array for zero rows', async () => {
    const spec = smallSpec('linear', 'classification');
    assert.equal(
      (await forwardBatch(spec, initParameters(spec, 1), new Float32Array(0), 0)).length,
      0,
    );
  });
});
