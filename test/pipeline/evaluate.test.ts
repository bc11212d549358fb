import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  classificationStats,
  computeMetrics,
  mergeEvalStats,
  regressionStats,
} from '../../src/pipeline/evaluate.js';
import type { PreparedRows } from '../../src/pipeline/preprocess.js';

const rowsOf = (target: Int32Array | Float32Array): PreparedRows => ({
  rows: target.length,
  x: new Float32Array(0),
  y: new Float32Array(0),
  target,
});

describe('Evaluation statistics', () => {
  test('should compute accuracy, macro-F1 and log-loss like scikit-learn', () => {
    // truth: 0 0 1 1 2 ; predicted argmax: 0 1 1 1 2
    const truth = Int32Array.from([0, 0, 1, 1, 2]);
    const p = Float32Array.from([
      0.8, 0.1, 0.1, 0.3, 0.6, 0.1, 0.2, 0.7, 0.1, 0.1, 0.5, 0.4, 0.1, 0.1, 0.8,
    ]);
    const m = computeMetrics(classificationStats(rowsOf(truth), p, 3));
    assert.equal(m.task, 'classification');
    if (m.task !== 'classification') return;
    assert.equal(m.accuracy, 0.8);
    // sklearn f1_score(average='macro'): class0 2/3, class1 0.8, class2 1.0
    assert.ok(Math.abs(m.macroF1 - (2 / 3 + 0.8 + 1) / 3) < 1e-12);
    const expectedLogLoss =
      -(Math.log(0.8) + Math.log(0.3) + Math.log(0.7) + Math.log(0.5) + Math.log(0.8)) / 5;
    assert.ok(Math.abs(m.logLoss - expectedLogLoss) < 1e-6);
  });

  test('should give the same metrics merged over batches as over all rows', () => {
    const truth = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const pred = Float32Array.from([1.5, 2, 2.5, 4, 6, 6]);
    const whole = computeMetrics(regressionStats(rowsOf(truth), pred));
    const a = regressionStats(rowsOf(truth.slice(0, 2)), pred.slice(0, 2));
    const b = regressionStats(rowsOf(truth.slice(2)), pred.slice(2));
    const merged = computeMetrics(mergeEvalStats(a, b));
    assert.deepEqual(merged, whole);
    if (whole.task !== 'regression') return;
    assert.ok(Math.abs(whole.rmse - Math.sqrt(1.5 / 6)) < 1e-12);
    assert.ok(Math.abs(whole.r2 - (1 - 1.5 / 17.5)) < 1e-12);
  });

  test('should merge confusion matrices exactly', () => {
    const t = Int32Array.from([0, 1]);
    const p = Float32Array.from([0.9, 0.1, 0.2, 0.8]);
    const s = mergeEvalStats(
      classificationStats(rowsOf(t), p, 2),
      classificationStats(rowsOf(t), p, 2),
    );
    assert.equal(s.kind, 'classification');
    if (s.kind === 'classification') assert.deepEqual([...s.confusion], [2, 0, 0, 2]);
  });
});
