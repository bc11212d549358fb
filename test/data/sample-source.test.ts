import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SampleSource, sampleNames } from '../../src/data/sample-source.js';
import { InvalidOptionError } from '../../src/errors.js';
import { classNames, collect } from './data-helpers.js';

describe('SampleSource', () => {
  test('should load digits: 1,797 rows, 64 numeric features, 10 classes', async () => {
    const source = new SampleSource('sample:digits');
    assert.equal(source.description, 'sample:digits');
    assert.equal(source.defaultLabel, 'digit');
    const schema = await source.inferSchema({ label: source.defaultLabel });
    assert.equal(schema.task, 'classification');
    assert.equal(schema.numeric.length, 64);
    assert.deepEqual(schema.numeric.slice(0, 2), ['p0', 'p1']);
    assert.deepEqual(schema.categorical, []);
    const batches = await collect(source, schema, { batchRows: 500 });
    assert.equal(
      batches.reduce((n, b) => n + b.rowCount, 0),
      1797,
    );
    assert.deepEqual([...new Set(batches.flatMap(classNames))].sort(), [
      '0',
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
    ]);
    const pixels = batches.flatMap((b) => [...b.numeric]);
    assert.ok(pixels.every((p) => Number.isInteger(p) && p >= 0 && p <= 16));
  });

  test('should accept the bare name and list the samples', () => {
    assert.equal(new SampleSource('digits').description, 'sample:digits');
    assert.deepEqual(sampleNames, ['digits']);
  });

  test('should reject an unknown sample, listing the available ones', () => {
    assert.throws(
      () => new SampleSource('sample:iris'),
      (err: unknown) => {
        assert.ok(err instanceof InvalidOptionError);
        assert.match(err.message, /'iris'.*sample:digits/);
        return true;
      },
    );
  });
});
