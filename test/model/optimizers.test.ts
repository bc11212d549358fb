import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidOptionError, ShapeError } from '../../src/errors.js';
import {
  applyUpdate,
  createOptimizerState,
  type OptimizerConfig,
} from '../../src/model/optimizers.js';

const shapes = [{ shape: [2, 2] }, { shape: [2] }];

/** f(p) = 0.5 * sum a_k (p_k - c_k)^2 over both tensors, with different curvatures a_k. */
function quadraticGrads(params: Float32Array[]): Float32Array[] {
  return params.map((p, i) => p.map((v, k) => (1 + k + 2 * i) * (v - (k - i))));
}

function distanceToOptimum(params: Float32Array[]): number {
  return Math.max(...params.flatMap((p, i) => Array.from(p, (v, k) => Math.abs(v - (k - i)))));
}

function minimise(config: OptimizerConfig, steps: number): number {
  const params = [new Float32Array([3, -3, 2, 5]), new Float32Array([4, -4])];
  const state = createOptimizerState(config.kind, shapes);
  for (let s = 0; s < steps; s++) applyUpdate(config, state, params, quadraticGrads(params));
  assert.equal(state.step, steps);
  return distanceToOptimum(params);
}

describe('optimizers', () => {
  test('should converge on a quadratic with SGD and momentum', () => {
    assert.ok(minimise({ kind: 'sgd', learningRate: 0.05, momentum: 0.9, l2: 0 }, 300) < 1e-4);
  });

  test('should converge on a quadratic with Nesterov SGD', () => {
    assert.ok(
      minimise({ kind: 'sgd', learningRate: 0.05, momentum: 0.9, l2: 0, nesterov: true }, 300) <
        1e-4,
    );
  });

  test('should converge on a quadratic with Adam', () => {
    assert.ok(minimise({ kind: 'adam', learningRate: 0.05, momentum: 0, l2: 0 }, 2000) < 1e-3);
  });

  test('should match a hand-computed Adam step', () => {
    const params = [new Float32Array([1, -2, 0.5, 0]), new Float32Array([0.25, -1])];
    const grads = [new Float32Array([0.5, -0.1, 0, 2]), new Float32Array([1e-3, -4])];
    const state = createOptimizerState('adam', shapes);
    const lr = 0.01;
    const l2 = 0.1;
    const before = params.map((p) => Float64Array.from(p));
    applyUpdate({ kind: 'adam', learningRate: lr, momentum: 0, l2 }, state, params, grads);
    // Step 1: m = 0.1 g, v = 0.001 g^2, m_hat = g, v_hat = g^2, so p -= lr * g / (|g| + eps).
    before.forEach((p, i) => {
      p.forEach((v, k) => {
        const g = grads[i]![k]! + (i === 0 ? l2 * v : 0);
        const expected = v - (lr * g) / (Math.abs(g) + 1e-8);
        assert.ok(
          Math.abs(params[i]![k]! - expected) < 1e-6,
          `param ${i}[${k}]: ${params[i]![k]} vs ${expected}`,
        );
        if (state.kind === 'adam') {
          assert.ok(Math.abs(state.m[i]![k]! - 0.1 * g) < 1e-7);
          assert.ok(Math.abs(state.v[i]![k]! - 0.001 * g * g) < 1e-7);
        }
      });
    });
  });

  test('should match two hand-computed momentum SGD steps', () => {
    const params = [new Float32Array([1, 2, 3, 4]), new Float32Array([1, 1])];
    const grads = [new Float32Array([1, 0, -1, 2]), new Float32Array([0.5, 0])];
    const config: OptimizerConfig = { kind: 'sgd', learningRate: 0.1, momentum: 0.5, l2: 0 };
    const state = createOptimizerState('sgd', shapes);
    applyUpdate(config, state, params, grads);
    applyUpdate(config, state, params, grads);
    // v1 = g, p1 = p - 0.1 g; v2 = 0.5 g + g = 1.5 g, p2 = p1 - 0.15 g: p - 0.25 g in total.
    assert.deepEqual(Array.from(params[0]!), Array.from(new Float32Array([0.75, 2, 3.25, 3.5])));
    assert.deepEqual(Array.from(params[1]!), Array.from(new Float32Array([0.875, 1])));
  });

  test('should decay weights but not biases with l2', () => {
    const params = [new Float32Array([1, 1, 1, 1]), new Float32Array([1, 1])];
    const zero = [new Float32Array(4), new Float32Array(2)];
    const state = createOptimizerState('sgd', shapes);
    applyUpdate({ kind: 'sgd', learningRate: 0.5, momentum: 0, l2: 0.1 }, state, params, zero);
    assert.deepEqual(Array.from(params[0]!), Array.from(new Float32Array(4).fill(0.95)));
    assert.deepEqual(Array.from(params[1]!), [1, 1]);
  });

  test('should give bitwise-identical results from the same inputs', () => {
    const run = (): Float32Array[] => {
      const params = [new Float32Array([0.3, -0.7, 1.1, 2]), new Float32Array([0.1, 0.2])];
      const state = createOptimizerState('adam', shapes);
      for (let s = 0; s < 50; s++)
        applyUpdate(
          { kind: 'adam', learningRate: 0.01, momentum: 0, l2: 1e-3 },
          state,
          params,
          quadraticGrads(params),
        );
      return [...params, ...(state.kind === 'adam' ? [...state.m, ...state.v] : [])];
    };
    assert.deepEqual(run(), run());
  });

  test('should keep its state as plain typed arrays that survive structured cloning', () => {
    const state = createOptimizerState('adam', shapes);
    assert.deepEqual(structuredClone(state), state);
  });

  test('should reject a config that does not match the state, and mismatched sizes', () => {
    const state = createOptimizerState('sgd', shapes);
    const params = [new Float32Array(4), new Float32Array(2)];
    assert.throws(
      () =>
        applyUpdate({ kind: 'adam', learningRate: 1, momentum: 0, l2: 0 }, state, params, params),
      InvalidOptionError,
    );
    assert.throws(
      () =>
        applyUpdate({ kind: 'sgd', learningRate: 1, momentum: 0, l2: 0 }, state, params, [
          new Float32Array(3),
          new Float32Array(2),
        ]),
      ShapeError,
    );
  });
});
