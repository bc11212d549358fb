import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isHeldOut } from '../../src/data/split.js';

function heldOut(seed: number, fraction: number, count = 100_000, start = 0): boolean[] {
  return Array.from({ length: count }, (_, i) => isHeldOut(start + i, seed, fraction));
}

describe('isHeldOut', () => {
  test('should hold out about the requested fraction of rows', () => {
    for (const fraction of [0.05, 0.2, 0.5]) {
      const share = heldOut(7, fraction).filter(Boolean).length / 100_000;
      assert.ok(Math.abs(share - fraction) < 0.01, `fraction ${fraction}: got ${share}`);
    }
  });

  test('should hold out about the fraction of far-away rows too', () => {
    const share = heldOut(7, 0.2, 100_000, 2 ** 40).filter(Boolean).length / 100_000;
    assert.ok(Math.abs(share - 0.2) < 0.01, `got ${share}`);
  });

  test('should give the same answer for the same row and seed', () => {
    assert.deepEqual(heldOut(3, 0.2, 1000), heldOut(3, 0.2, 1000));
    assert.equal(isHeldOut(123_456, 3, 0.2), heldOut(3, 0.2, 1, 123_456)[0]);
  });

  test('should hold out different rows for a different seed', () => {
    const a = heldOut(1, 0.2, 10_000);
    const b = heldOut(2, 0.2, 10_000);
    const both = a.filter((v, i) => v && b[i]).length;
    // Independent choices overlap on about 0.2 × 0.2 of the rows.
    assert.ok(both > 250 && both < 550, `overlap ${both}`);
  });

  test('should hold out nothing at fraction 0 and everything at fraction 1', () => {
    assert.ok(heldOut(5, 0, 1000).every((v) => !v));
    assert.ok(heldOut(5, 1, 1000).every((v) => v));
  });

  test('should nest: a row held out at a fraction stays held out at a larger one', () => {
    const small = heldOut(9, 0.1, 10_000);
    const large = heldOut(9, 0.3, 10_000);
    assert.ok(small.every((v, i) => !v || large[i]));
  });
});
