import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  amdahlFit,
  amdahlSpeedup,
  linearFit,
  linearityCheck,
  median,
  sampleQuantile,
  uslFit,
  uslThroughput,
} from '../../src/analysis/fit.js';

describe('linearFit', () => {
  test('should recover an exact line with R² = 1', () => {
    const f = linearFit([10, 100, 1000], [0.5 + 0.02 * 10, 0.5 + 0.02 * 100, 0.5 + 0.02 * 1000]);
    assert.ok(
      Math.abs(f.a - 0.5) < 1e-9 && Math.abs(f.b - 0.02) < 1e-12 && Math.abs(f.r2 - 1) < 1e-12,
    );
  });

  test('should give R² below 1 for noisy points and refuse a single x', () => {
    assert.ok(linearFit([1, 2, 3, 4], [1, 3, 2, 4]).r2 < 1);
    assert.throws(() => linearFit([2, 2], [1, 3]), RangeError);
  });

  test('should take the median of odd and even lists', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });

  test('should interpolate quantiles between order statistics, as numpy does by default', () => {
    assert.equal(sampleQuantile([4, 1, 3, 2, 5], 0.25), 2);
    assert.equal(sampleQuantile([1, 2, 3, 4], 0.5), 2.5);
    assert.equal(sampleQuantile([1, 2, 3, 4], 0.25), 1.75);
    assert.equal(sampleQuantile([7], 0.9), 7);
    assert.throws(() => sampleQuantile([], 0.5), RangeError);
  });
});

describe('linearityCheck', () => {
  test('should accept a line and flag a quadratic departure, naming the worst point', () => {
    const n = [10, 100, 1000, 10000];
    assert.equal(
      linearityCheck(
        n,
        n.map((v) => 0.2 + 0.003 * v),
      ).linear,
      true,
    );
    const bent = linearityCheck(
      n,
      n.map((v) => 0.2 + 1e-3 * v + 3e-7 * v * v),
    );
    assert.equal(bent.linear, false);
    assert.ok(bent.maxRelativeResidual > 0.15);
  });
});

describe('amdahlFit', () => {
  test('should recover a known serial fraction', () => {
    const n = [1, 2, 4, 8, 16];
    const f = amdahlFit(
      n,
      n.map((v) => 500 * amdahlSpeedup(0.1, v)),
    );
    assert.ok(Math.abs(f.serialFraction - 0.1) < 1e-9, String(f.serialFraction));
    assert.ok(Math.abs(f.maxSpeedup - 10) < 1e-6);
    assert.ok(f.r2 > 0.999999);
  });

  test('should refuse a series without N = 1', () => {
    assert.throws(() => amdahlFit([2, 4], [10, 20]), /N = 1/);
  });
});

describe('uslFit', () => {
  const n = [1, 2, 3, 4, 6, 8, 12, 16];

  test('should recover λ, σ and κ of a retrograde curve and its peak', () => {
    const truth = { lambda: 1200, sigma: 0.08, kappa: 0.004 };
    const f = uslFit(
      n,
      n.map((v) => uslThroughput(truth, v)),
    );
    assert.ok(Math.abs(f.lambda / truth.lambda - 1) < 1e-4, `λ ${f.lambda}`);
    assert.ok(Math.abs(f.sigma - truth.sigma) < 1e-4, `σ ${f.sigma}`);
    assert.ok(Math.abs(f.kappa - truth.kappa) < 1e-5, `κ ${f.kappa}`);
    assert.ok(Math.abs(f.peakN - Math.sqrt((1 - 0.08) / 0.004)) < 0.01, `N* ${f.peakN}`);
    assert.equal(f.underDetermined, false);
    assert.ok(f.r2 > 0.9999);
  });

  test('should recover the parameters from noisy points within a few percent', () => {
    const truth = { lambda: 90, sigma: 0.15, kappa: 0.01 };
    const noise = [1.01, 0.98, 1.02, 0.99, 1.0, 1.015, 0.985, 1.0];
    const f = uslFit(
      n,
      n.map((v, i) => uslThroughput(truth, v) * noise[i]!),
    );
    assert.ok(Math.abs(f.lambda / truth.lambda - 1) < 0.05, `λ ${f.lambda}`);
    assert.ok(Math.abs(f.sigma - truth.sigma) < 0.05, `σ ${f.sigma}`);
    assert.ok(Math.abs(f.kappa - truth.kappa) < 0.005, `κ ${f.kappa}`);
  });

  test('should find κ = 0 and no peak for a curve that follows Amdahl', () => {
    const f = uslFit(
      n,
      n.map((v) => 300 * amdahlSpeedup(0.05, v)),
    );
    assert.ok(f.kappa < 1e-6, `κ ${f.kappa}`);
    assert.ok(Math.abs(f.sigma - 0.05) < 1e-3, `σ ${f.sigma}`);
    assert.equal(f.peakN, Infinity);
  });

  test('should say the fit is under-determined with three or fewer distinct N', () => {
    const f = uslFit([1, 2, 4], [3000, 3400, 2500]);
    assert.equal(f.underDetermined, true);
    assert.equal(f.points, 3);
    assert.throws(() => uslFit([2, 2], [1, 2]), RangeError);
  });
});
