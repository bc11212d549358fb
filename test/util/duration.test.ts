import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { durationFlag, formatDurationMs, parseDurationMs } from '../../src/util/duration.js';
import { InvalidOptionError } from '../../src/errors.js';

describe('parseDurationMs (one syntax for load, advise and sweep)', () => {
  const cases: [string, number][] = [
    ['250ms', 250],
    ['5s', 5000],
    ['1.5', 1500],
    ['2.5s', 2500],
    ['1m', 60_000],
    ['2min', 120_000],
    ['1.5h', 5_400_000],
    [' 10 s ', 10_000],
    ['0', 0],
  ];
  for (const [text, ms] of cases)
    test(`should read ${JSON.stringify(text)} as ${ms} ms`, () => {
      assert.equal(parseDurationMs(text), ms);
    });
  for (const text of ['', 'soon', '5 minutes', '-1s', '1d', '1e3', 's'])
    test(`should refuse ${JSON.stringify(text)}`, () => {
      assert.equal(parseDurationMs(text), undefined);
    });
});

describe('durationFlag', () => {
  test('should be undefined when the flag is absent', () => {
    assert.equal(durationFlag('--point-duration', undefined), undefined);
  });
  test('should name the flag, the accepted forms and what was given', () => {
    assert.throws(
      () => durationFlag('--duration', '30x'),
      (err: unknown) =>
        err instanceof InvalidOptionError &&
        err.message ===
          '--duration must be a duration such as 500ms, 30s, 2m, 1.5h or a bare number of seconds, above zero; got "30x"',
    );
  });
  test('should refuse zero unless allowed, and durations past the limit', () => {
    assert.throws(() => durationFlag('--duration', '0s'), /above zero; got "0s"/);
    assert.equal(durationFlag('--warmup', '0', { zeroAllowed: true }), 0);
    assert.throws(
      () => durationFlag('--duration', '25h', { maxMs: 86_400_000 }),
      /above zero and at most 24h; got "25h"/,
    );
  });
  test('should write durations back in their largest whole unit', () => {
    assert.equal(formatDurationMs(86_400_000), '24h');
    assert.equal(formatDurationMs(90_000), '90s');
    assert.equal(formatDurationMs(1500), '1500ms');
  });
});
