/**
 * What the primary checks of its observers when they are given (a wrong shape fails before any
 * replica starts), and the host signals the autoscale loop derives from the replicas' samples.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { signalsOf } from '../../../src/serve/cluster/autoscale-loop.js';
import { checkObservers } from '../../../src/serve/cluster/observer.js';

describe('checkObservers', () => {
  test('should accept observers with hooks and distinct topics', () => {
    const observers = [
      { name: 'a', topic: 'dashboard', answer: () => 1, onStart: () => undefined },
      { name: 'b', onDecision: () => undefined },
    ];
    assert.equal(checkObservers(observers), observers);
  });

  test('should name the first wrong observer', () => {
    assert.throws(() => checkObservers({}), /observers must be an array of observers, got object/);
    assert.throws(
      () => checkObservers([{ name: '' }]),
      /observers\[0\]\.name must be a non-empty string/,
    );
    assert.throws(
      () => checkObservers([{ name: 'x', onStop: 3 }]),
      (e: Error) =>
        e instanceof TypeError &&
        /observers\[0\]\.onStop \(x\) must be a function, got number/.test(e.message),
    );
    assert.throws(
      () => checkObservers([{ name: 'x', topic: 'fleet' }]),
      /observers\[0\]\.answer \(x\) must be a function, since it has a topic/,
    );
    assert.throws(
      () => checkObservers([{ name: 'x', topic: 'metrics', answer: () => 1 }]),
      (e: Error) => e instanceof RangeError && /"metrics" is taken/.test(e.message),
    );
    assert.throws(
      () =>
        checkObservers([
          { name: 'x', topic: 't', answer: () => 1 },
          { name: 'y', topic: 't', answer: () => 2 },
        ]),
      /observers\[1\]\.topic \(y\): "t" is taken/,
    );
  });
});

describe('signalsOf', () => {
  test('should sum ongoing requests and queues, and average the idle share of the cores', () => {
    // 4 cores, 2 replicas: a share of 2 cores each. Over 1 s, one used 1 core-second (half idle), the other none.
    const s = signalsOf(
      [
        { ongoing: 3, queueDepth: 1, cpuMs: 1000, elapsedMs: 1000 },
        { ongoing: 5, queueDepth: 2, cpuMs: 0, elapsedMs: 1000 },
      ],
      4,
      2,
      42,
    );
    assert.deepEqual(s, { timeMs: 42, ongoingRequests: 8, queueDepth: 3, cpuIdle: 0.75 });
  });

  test('should count a replica that used more than its share as not idle at all, and have no signal without samples', () => {
    assert.equal(
      signalsOf([{ ongoing: 0, queueDepth: 0, cpuMs: 5000, elapsedMs: 1000 }], 2, 1, 0)?.cpuIdle,
      0,
    );
    assert.equal(signalsOf([], 2, 1, 0), undefined);
  });
});
