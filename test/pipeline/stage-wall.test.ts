import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stageDelta, stageWallTimes } from '../../src/pipeline/stage-wall.js';

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} ≠ ${b}`);

describe('stageWallTimes (per-stage times with one meaning on every executor)', () => {
  test('should keep sequential task time as it is and call the rest driver time', () => {
    // Inline: tasks ran one after another for 8 of the phase's 10 s.
    const wall = stageWallTimes([
      { stages: { preprocess: 3000, train: 5000, evaluate: 0 }, wallMs: 10_000 },
    ]);
    assert.deepEqual(wall, { preprocess: 3000, train: 5000, evaluate: 0, other: 2000 });
  });

  test('should divide overlapping task time by the parallelism, adding up to the wall time', () => {
    // Two threads busy for the whole 10 s: 20 s of task time.
    const wall = stageWallTimes([
      { stages: { preprocess: 8000, train: 12_000, evaluate: 0 }, wallMs: 10_000 },
    ]);
    assert.deepEqual(wall, { preprocess: 4000, train: 6000, evaluate: 0, other: 0 });
  });

  test('should give the same answer for the same work inline and on 2 workers', () => {
    const inline = stageWallTimes([
      { stages: { preprocess: 2000, train: 0, evaluate: 0 }, wallMs: 2000 },
      { stages: { preprocess: 1000, train: 9000, evaluate: 0 }, wallMs: 10_000 },
    ]);
    // Same shares of the run on 2 workers, each phase twice as fast, twice the task time
    // (each task waited for a core).
    const threads = stageWallTimes([
      { stages: { preprocess: 2000, train: 0, evaluate: 0 }, wallMs: 1000 },
      { stages: { preprocess: 1000, train: 9000, evaluate: 0 }, wallMs: 5000 },
    ]);
    for (const k of ['preprocess', 'train', 'evaluate', 'other'] as const)
      close(threads[k] * 2, inline[k]);
  });

  test('should sum each phase separately', () => {
    const wall = stageWallTimes([
      { stages: { preprocess: 4000, train: 0, evaluate: 0 }, wallMs: 2000 },
      { stages: { preprocess: 0, train: 0, evaluate: 500 }, wallMs: 1000 },
    ]);
    assert.deepEqual(wall, { preprocess: 2000, train: 0, evaluate: 500, other: 500 });
  });

  test('stageDelta should give the task time between two snapshots', () => {
    assert.deepEqual(
      stageDelta(
        { preprocess: 5, train: 7, evaluate: 9 },
        { preprocess: 1, train: 2, evaluate: 3 },
      ),
      { preprocess: 4, train: 5, evaluate: 6 },
    );
  });
});
