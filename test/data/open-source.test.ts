import assert from 'node:assert/strict';
import { basename, dirname } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { CsvSource } from '../../src/data/csv-source.js';
import { JsonlSource } from '../../src/data/jsonl-source.js';
import { openSource } from '../../src/data/open-source.js';
import { SampleSource } from '../../src/data/sample-source.js';
import { SyntheticSource } from '../../src/data/synthetic-source.js';
import { DataNotFoundError, InvalidOptionError } from '../../src/errors.js';
import { rejectsWith, TempFiles } from './data-helpers.js';

const files = new TempFiles();
afterEach(() => files.cleanup());

describe('openSource', () => {
  test('should pick the source from the form of the spec', () => {
    assert.ok(openSource('synthetic:rows=10') instanceof SyntheticSource);
    assert.ok(openSource('sample:digits') instanceof SampleSource);
    assert.ok(openSource('digits') instanceof SampleSource);
    assert.ok(openSource('train.csv') instanceof CsvSource);
    assert.ok(openSource('TRAIN.CSV') instanceof CsvSource);
    assert.ok(openSource('csv:data.txt') instanceof CsvSource);
    assert.ok(openSource('events.jsonl') instanceof JsonlSource);
    assert.ok(openSource('events.ndjson') instanceof JsonlSource);
    assert.ok(openSource('jsonl:events.log') instanceof JsonlSource);
    assert.equal(openSource('csv:data.txt').description, 'csv:data.txt');
  });

  test('should resolve relative paths against cwd', async () => {
    const path = await files.write('.csv', 'x,y\n1,0\n2,1\n');
    const source = openSource(basename(path), { cwd: dirname(path) }) as CsvSource;
    assert.equal(source.path, path);
    assert.deepEqual((await source.inferSchema({ label: 'y' })).numeric, ['x']);
  });

  test('should reject an unrecognised spec, listing the accepted forms', () => {
    for (const spec of ['data.parquet', 'csv:', '']) {
      assert.throws(
        () => openSource(spec),
        (err: unknown) => {
          assert.ok(err instanceof InvalidOptionError, String(err));
          assert.match(err.message, /synthetic:.*sample:.*csv:.*jsonl:/);
          return true;
        },
      );
    }
  });

  test('should open a missing file and reject at first read with DataNotFoundError', async () => {
    const path = files.path('.csv');
    const source = openSource(path);
    await rejectsWith(source.inferSchema({ label: 'y' }), DataNotFoundError, 'E_DATA_NOT_FOUND', [
      path,
    ]);
  });
});
