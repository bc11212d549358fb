import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Prng } from '../../src/model/prng.js';

describe('Prng', () => {
  test('should repeat the same stream for the same seed and differ for another seed', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const sa = Array.from({ length: 20 }, () => a.nextUint32());
    assert.deepEqual(
      sa,
      Array.from({ length: 20 }, () => b.nextUint32()),
    );
    assert.notDeepEqual(
      sa,
      Array.from({ length: 20 }, () => c.nextUint32()),
    );
  });

  test('should draw floats in [0, 1) and integers in [0, n) roughly uniformly', () => {
    const rng = new Prng(7);
    const counts = new Array<number>(10).fill(0);
    let sum = 0;
    for (let i = 0; i < 20000; i++) {
      const f = rng.nextFloat();
      assert.ok(f >= 0 && f < 1);
      sum += f;
      const k = rng.nextInt(10);
      assert.ok(Number.isInteger(k) && k >= 0 && k < 10);
      counts[k]! += 1;
    }
    assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01);
    for (const c of counts) assert.ok(Math.abs(c - 2000) < 200, `bucket count ${c}`);
  });

  test('should draw normals with mean 0 and variance 1', () => {
    const rng = new Prng(3);
    const n = 20000;
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const z = rng.normal();
      assert.ok(Number.isFinite(z));
      sum += z;
      sq += z * z;
    }
    assert.ok(Math.abs(sum / n) < 0.03);
    assert.ok(Math.abs(sq / n - 1) < 0.05);
  });

  test('should shuffle into a permutation, reproducibly', () => {
    const make = (): Int32Array =>
      new Prng(9).shuffle(Int32Array.from({ length: 100 }, (_, i) => i));
    const shuffled = make();
    assert.deepEqual(shuffled, make());
    assert.deepEqual(
      Array.from(shuffled).sort((x, y) => x - y),
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.notDeepEqual(
      Array.from(shuffled),
      Array.from({ length: 100 }, (_, i) => i),
    );
  });
});
