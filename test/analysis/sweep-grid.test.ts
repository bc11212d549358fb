/**
 * Sweep grids: list flags are checked once (empty, non-number, out of range, duplicate, words) and
 * their cartesian product covers every combination once.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidOptionError } from '../../src/errors.js';
import { cartesian, parseGridList, parseNumberList } from '../../src/analysis/sweep-grid.js';

describe('parseGridList', () => {
  const rule = { min: 1, max: 64 };

  test('should parse a comma-separated list of integers in order', () => {
    assert.deepEqual(parseNumberList('--replicas', '1,2, 4', rule), [1, 2, 4]);
  });

  test('should reject an empty list, naming the flag', () => {
    assert.throws(
      () => parseNumberList('--replicas', '', rule),
      (err: Error) =>
        err instanceof InvalidOptionError &&
        /--replicas must list integers from 1 to 64.*got an empty list/.test(err.message),
    );
  });

  test('should reject zero below the minimum, naming the entry', () => {
    assert.throws(
      () => parseNumberList('--replicas', '0', rule),
      /--replicas must list integers from 1 to 64, comma-separated, got "0"/,
    );
  });

  test('should reject a non-number', () => {
    assert.throws(
      () => parseNumberList('--instances', '1,two', rule),
      /--instances must list .* got "two" in "1,two"/,
    );
  });

  test('should reject an empty entry', () => {
    assert.throws(() => parseNumberList('--instances', '1,,2', rule), /got "" in "1,,2"/);
  });

  test('should reject a fraction where integers are expected', () => {
    assert.throws(() => parseNumberList('--workers', '1.5', rule), /--workers must list integers/);
  });

  test('should reject a duplicate', () => {
    assert.throws(
      () => parseNumberList('--batches', '10,100,10', { min: 1, max: 1000 }),
      (err: Error) =>
        err instanceof InvalidOptionError &&
        /--batches lists 10 twice in "10,100,10"/.test(err.message),
    );
  });

  test('should accept the words a rule allows beside numbers', () => {
    assert.deepEqual(
      parseGridList('--max-queue-delay-ms', 'auto,0,2.5', {
        min: 0,
        max: 100,
        integer: false,
        words: ['auto'],
      }),
      ['auto', 0, 2.5],
    );
    assert.throws(
      () =>
        parseGridList('--max-queue-delay-ms', 'soon', {
          min: 0,
          max: 100,
          integer: false,
          words: ['auto'],
        }),
      /numbers from 0 to 100 or "auto", comma-separated, got "soon"/,
    );
  });

  test('should check lists given as arrays the same way', () => {
    assert.deepEqual(parseNumberList('--replicas', [1, 2], rule), [1, 2]);
    assert.throws(() => parseNumberList('--replicas', [], rule), /got an empty list/);
    assert.throws(() => parseNumberList('--replicas', [2, 2], rule), /lists 2 twice/);
  });
});

describe('cartesian', () => {
  test('should give every combination once, the first list varying slowest', () => {
    assert.deepEqual(cartesian({ a: [1, 2], b: ['x', 'y'] }), [
      { a: 1, b: 'x' },
      { a: 1, b: 'y' },
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
    ]);
  });
});
