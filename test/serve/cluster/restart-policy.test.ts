/**
 * When the primary replaces a dead replica and when it gives up, with time as an input: the first
 * death at once, repeated ones after a doubling backoff, five in a minute a crash loop.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  kBackoffMaxMs,
  kCrashLoopDeaths,
  kCrashLoopWindowMs,
  kStableMs,
  RestartPolicy,
} from '../../../src/serve/cluster/restart-policy.js';

describe('RestartPolicy', () => {
  test('should replace a first death at once', () => {
    assert.deepEqual(new RestartPolicy().died(1_000), {
      deaths: 1,
      crashLoop: false,
      restartInMs: 0,
    });
  });

  test('should back off, doubling, on deaths close together', () => {
    const p = new RestartPolicy();
    const delays = [0, 1, 2, 3].map((i) => p.died(10_000 + i * 100).restartInMs);
    assert.deepEqual(delays, [0, 250, 500, 1000]);
  });

  test('should forget deaths older than the stable time for the backoff', () => {
    const p = new RestartPolicy();
    p.died(0);
    assert.equal(p.died(kStableMs + 1).restartInMs, 0);
  });

  test('should never wait longer than the maximum backoff', () => {
    const p = new RestartPolicy();
    let last = 0;
    for (let i = 0; i < 4; i++) last = p.died(i * (kCrashLoopWindowMs / 4) + 1).restartInMs;
    assert.ok(last <= kBackoffMaxMs);
  });

  test('should call a crash loop at five deaths within the window, and not when they are spread out', () => {
    const loop = new RestartPolicy();
    const verdicts = Array.from({ length: kCrashLoopDeaths }, (_, i) => loop.died(i * 1_000));
    assert.deepEqual(
      verdicts.map((v) => v.crashLoop),
      [false, false, false, false, true],
    );
    const spread = new RestartPolicy();
    for (let i = 0; i < 10; i++)
      assert.equal(spread.died(i * (kCrashLoopWindowMs / 4 + 1)).crashLoop, false);
  });
});
