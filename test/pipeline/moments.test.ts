import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeMoments, momentsOf, standardDeviation } from '../../src/pipeline/moments.js';

function naive(values: number[]) {
  const xs = values.filter((v) => !Number.isNaN(v));
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const m2 = xs.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { count: xs.length, mean, m2 };
}

describe('Moments (Chan et al. merge)', () => {
  test('should give the same moments merged over parts as over the whole column', () => {
    const values = Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 100 + (i % 7));
    const whole = naive(values);
    const parts = [
      values.slice(0, 13),
      values.slice(13, 500),
      values.slice(500, 501),
      values.slice(501),
    ];
    const merged = parts
      .map((p) => momentsOf(Float32Array.from(p), p.length, 1))
      .reduce((a, b) => mergeMoments(a, b));
    assert.equal(merged.count[0], whole.count);
    assert.ok(Math.abs(merged.mean[0]! - whole.mean) < 1e-4);
    assert.ok(Math.abs(merged.m2[0]! - whole.m2) / whole.m2 < 1e-6);
  });

  test('should skip NaN values and count only present ones, per column', () => {
    const m = momentsOf(Float32Array.from([1, NaN, 3, 10, NaN, 30]), 3, 2);
    assert.deepEqual([...m.count], [2, 2]);
    assert.deepEqual([...m.mean], [2, 20]);
  });

  test('should apply a row filter', () => {
    const m = momentsOf(Float32Array.from([1, 2, 3, 4]), 4, 1, (r) => r % 2 === 0);
    assert.equal(m.count[0], 2);
    assert.equal(m.mean[0], 2);
  });

  test('should merge with an empty side unchanged', () => {
    const a = momentsOf(Float32Array.from([2, 4]), 2, 1);
    const empty = momentsOf(new Float32Array(0), 0, 1);
    assert.deepEqual(mergeMoments(a, empty), a);
    assert.deepEqual(mergeMoments(empty, a), a);
  });

  test('should give the population standard deviation', () => {
    const m = momentsOf(Float32Array.from([2, 4, 4, 4, 5, 5, 7, 9]), 8, 1);
    assert.equal(standardDeviation(m)[0], 2);
  });
});
