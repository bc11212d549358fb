import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { linearFit, median } from '../../src/bench/fit.js';

describe('linearFit', () => {
  test('should recover an exact line with R² = 1', () => {
    const f = linearFit([10, 100, 1000], [0.5 + 0.02 * 10, 0.5 + 0.02 * 100, 0.5 + 0.02 * 1000]);
    assert.ok(Math.abs(f.a - 0.5) < 1e-9 && Math.abs(f.b - 0.02) < 1e-12 && Math.abs(f.r2 - 1) < 1e-12);
  });

  test('should give R² below 1 for noisy points and refuse a single x', () => {
    assert.ok(linearFit([1, 2, 3, 4], [1, 3, 2, 4]).r2 < 1);
    assert.throws(() => linearFit([2, 2], [1, 3]), RangeError);
  });

  test('should take the median of odd and even lists', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });
});
