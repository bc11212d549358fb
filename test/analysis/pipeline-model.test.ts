/**
 * The pipeline's phase model (src/analysis/pipeline-model.ts): turns of map calls, the driver's
 * serial part, cache misses of remote workers, shared CPUs; and the advisor using it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { forecastPipeline, turns } from '../../src/analysis/pipeline-model.js';
import type { PipelinePoint } from '../../src/analysis/sweep-schema.js';

const phase = (
  seconds: number,
  mapSeconds: number,
  taskSeconds: number,
  tasks: number,
  widestMap: number,
  readSeconds?: number,
) => ({
  seconds,
  mapSeconds,
  taskSeconds,
  tasks,
  maps: Math.ceil(tasks / widestMap),
  widestMap,
  ...(readSeconds !== undefined ? { readSeconds } : {}),
});

/** One worker, 80 batches: fit 0.8 s (10 ms a task), train 0.8 s in rounds of 4, evaluate 0.4 s. */
const one: PipelinePoint = {
  batches: 80,
  workers: 1,
  batchSize: 1000,
  rows: 80_000,
  seconds: 2.1,
  stageSeconds: { fit: 0.8, train: 0.9, evaluate: 0.4 },
  taskSeconds: 1.5,
  driverSeconds: 0.1 + 240 * 0.0005,
  phases: {
    fit: phase(0.8, 0.8, 0.6, 80, 8, 0.32),
    train: phase(0.9, 0.8, 0.6, 80, 4, 0.04),
    evaluate: phase(0.4, 0.4, 0.3, 80, 8, 0.04),
  },
};

describe('pipeline phase model', () => {
  test('turns: a map call of b tasks takes ⌈b/k⌉ turns', () => {
    assert.equal(turns(80, 4, 1), 80);
    assert.equal(turns(80, 4, 2), 40);
    // Rounds of 4 on 3 workers take two turns each, as on 2.
    assert.equal(turns(80, 4, 3), 40);
    assert.equal(turns(10, 4, 3), 2 + 2 + 1);
    assert.equal(turns(0, 4, 3), 0);
  });

  test('one worker predicts itself', () => {
    const f = forecastPipeline(one, { workers: 1 })!;
    assert.ok(Math.abs(f.seconds - one.seconds) < 1e-9, `${f.seconds}`);
  });

  test('more workers: the driver stays serial; rounds of 4 take as many turns at 3 workers as at 2', () => {
    const two = forecastPipeline(one, { workers: 2 })!;
    const three = forecastPipeline(one, { workers: 3 })!;
    // serial: 0.1 s between map calls + 240 tasks × 0.5 ms.
    assert.ok(Math.abs(two.serialSeconds - 0.22) < 1e-9);
    assert.ok(two.seconds < one.seconds && three.seconds < two.seconds);
    // The training phase takes as many turns at 3 workers as at 2: the gain from 2 to 3 comes from
    // the fit and evaluate windows only.
    const trainTurn = 0.8 / 80 - 0.0005;
    assert.equal(turns(80, 4, 2) * trainTurn, turns(80, 4, 3) * trainTurn);
    assert.equal(two.slowdown, 1);
  });

  test('remote workers caching their own batches: later passes rebuild what they miss', () => {
    const plain = forecastPipeline(one, { workers: 2 })!;
    const cached = forecastPipeline({ ...one, workerCaches: true }, { workers: 2 })!;
    // Half the train and evaluate tasks miss: each pays the fit pass's read (4 ms) less its own (0.5 ms).
    const extra = 0.5 * (0.004 - 0.0005);
    const expected = plain.seconds + turns(80, 4, 2) * extra + turns(80, 16, 2) * extra;
    assert.ok(Math.abs(cached.seconds - expected) < 1e-9, `${cached.seconds} vs ${expected}`);
    assert.match(cached.basis, /rebuilding batches/);
  });

  test('threads sharing the cores slow each task; a measured ceiling caps them', () => {
    const own = forecastPipeline(one, { workers: 2 })!;
    const shared = forecastPipeline(one, { workers: 2, sharedCpus: 2 })!;
    assert.ok(shared.slowdown > 1 && shared.seconds > own.seconds);
    const capped = forecastPipeline(one, { workers: 2, sharedCpus: 2, parallelSpeedup: 1.4 })!;
    assert.ok(Math.abs(capped.slowdown - 2 / 1.4) < 1e-9);
  });

  test('a point without phases (an older file) gives no forecast', () => {
    const { phases: _p, ...old } = one;
    assert.equal(forecastPipeline(old, { workers: 2 }), undefined);
    assert.equal(forecastPipeline({ ...one, workers: 2 }, { workers: 4 }), undefined);
  });
});

describe('the advisor with a sweep that recorded phases', () => {
  test('horizontal: the best point with all but the driver split over 2 machines, and says the executor lacks hand-overs', async () => {
    const { join } = await import('node:path');
    const { advise } = await import('../../src/analysis/advisor.js');
    const { readSweepFile } = await import('../../src/analysis/sweep-file.js');
    const { packageRoot } = await import('../../src/util/package-root.js');
    // The demo's pipeline sweep (threads, 8–32 batches × 1, 2 workers), 2026-12-07.
    const sweep = await readSweepFile(
      join(packageRoot(), 'test', 'fixtures', 'sweeps', 'pipeline-phases'),
    );
    const r = advise([sweep]).recommendations[0]!;
    assert.equal(r.lever, 'horizontal');
    assert.equal(r.next?.machines, 2);
    const p = r.prediction!;
    assert.ok(sweep.kind === 'pipeline');
    const many = sweep.points.find((q) => q.workers === 2 && q.batches === 32)!;
    const serial = forecastPipeline(
      sweep.points.find((q) => q.workers === 1 && q.batches === 32)!,
      { workers: 1 },
    )!.serialSeconds;
    const expected = many.rows / (serial + (many.seconds - serial) / 2);
    assert.ok(Math.abs(p.value / expected - 1) < 1e-9, `${p.value} vs ${expected}`);
    assert.ok(p.low < p.value && p.value < p.high);
    assert.match(p.basis, /split over 2 machines; measured with the threads executor/);
  });
});
