import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ShapeError } from '../../src/errors.js';
import { initParameters, parameterCount, parameterShapes } from '../../src/model/parameters.js';
import type { ModelSpec } from '../../src/model/spec.js';

const mlp: ModelSpec = {
  family: 'mlp',
  task: 'classification',
  inputs: 784,
  outputs: 10,
  hidden: [128, 32],
  activation: 'relu',
};

describe('parameters', () => {
  test('should lay out W_l as [in, out] and b_l as [out], in order W0, b0, W1, b1, ...', () => {
    assert.deepEqual(parameterShapes(mlp), [
      { name: 'W0', shape: [784, 128] },
      { name: 'b0', shape: [128] },
      { name: 'W1', shape: [128, 32] },
      { name: 'b1', shape: [32] },
      { name: 'W2', shape: [32, 10] },
      { name: 'b2', shape: [10] },
    ]);
    assert.equal(parameterCount(mlp), 784 * 128 + 128 + 128 * 32 + 32 + 32 * 10 + 10);
  });

  test('should give a linear model one layer whatever its hidden list says', () => {
    const linear: ModelSpec = { ...mlp, family: 'linear', task: 'regression', outputs: 1 };
    assert.deepEqual(parameterShapes(linear), [
      { name: 'W0', shape: [784, 1] },
      { name: 'b0', shape: [1] },
    ]);
  });

  test('should initialise Glorot-uniform weights and zero biases, reproducibly', () => {
    const params = initParameters(mlp, 5);
    assert.deepEqual(params, initParameters(mlp, 5));
    assert.notDeepEqual(params[0], initParameters(mlp, 6)[0]);
    const limit = Math.sqrt(6 / (784 + 128));
    const w0 = params[0]!;
    assert.equal(w0.length, 784 * 128);
    assert.ok(w0.every((v) => Math.abs(v) <= limit));
    // Uniform on [-a, a] has variance a^2 / 3.
    const variance = w0.reduce((s, v) => s + v * v, 0) / w0.length;
    assert.ok(Math.abs(variance / ((limit * limit) / 3) - 1) < 0.02);
    assert.ok(params[1]!.every((v) => v === 0));
  });

  test('should reject non-positive layer sizes', () => {
    assert.throws(() => parameterShapes({ ...mlp, hidden: [0] }), ShapeError);
    assert.throws(() => parameterShapes({ ...mlp, inputs: 2.5 }), ShapeError);
  });
});
