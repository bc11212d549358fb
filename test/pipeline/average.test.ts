import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { weightedAverage } from '../../src/pipeline/average.js';

describe('weightedAverage', () => {
  test('should weight each list by its row count', () => {
    const out = weightedAverage(
      [[Float32Array.from([0, 10])], [Float32Array.from([4, 20])]],
      [3, 1],
      [new Float32Array(2)],
    );
    assert.deepEqual([...out[0]!], [1, 12.5]);
  });

  test('should ignore lists with zero weight and keep the fallback when all are zero', () => {
    const fallback = [Float32Array.from([7])];
    assert.deepEqual([...weightedAverage([[Float32Array.from([1])]], [0], fallback)[0]!], [7]);
    assert.deepEqual(
      [
        ...weightedAverage(
          [[Float32Array.from([1])], [Float32Array.from([NaN])]],
          [1, 0],
          fallback,
        )[0]!,
      ],
      [1],
    );
  });
});
