import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { afterEach, describe, test } from 'node:test';
import { CsvSource } from '../../src/data/csv-source.js';
import type { Schema } from '../../src/data/types.js';
import {
  DataEmptyError,
  DataNotFoundError,
  DataParseError,
  DataValueError,
  InvalidOptionError,
  LabelNotFoundError,
} from '../../src/errors.js';
import { collect, rejectsWith, TempFiles } from './data-helpers.js';

const files = new TempFiles();
afterEach(() => files.cleanup());

const schemaXY: Schema = {
  columns: [
    { name: 'x', kind: 'numeric' },
    { name: 'c', kind: 'categorical' },
  ],
  numeric: ['x'],
  categorical: ['c'],
  label: 'y',
  task: 'classification',
};

/** Streams a file with the x/c/y schema, failing on the first bad row. */
async function readXY(body: string, task: Schema['task'] = 'classification') {
  const path = await files.write('.csv', `x,c,y\n${body}`);
  return { path, read: collect(new CsvSource(path), { ...schemaXY, task }) };
}

describe('CsvSource bad input', () => {
  test('should reject a missing file with DataNotFoundError naming the path', async () => {
    const path = files.path('.csv');
    const source = new CsvSource(path);
    await rejectsWith(source.inferSchema({ label: 'y' }), DataNotFoundError, 'E_DATA_NOT_FOUND', [
      path,
    ]);
    await rejectsWith(collect(source, schemaXY), DataNotFoundError, 'E_DATA_NOT_FOUND', [path]);
  });

  test('should reject a directory with DataNotFoundError', async () => {
    const path = files.path('.csv');
    await mkdir(path);
    const source = new CsvSource(path);
    await rejectsWith(source.inferSchema({ label: 'y' }), DataNotFoundError, 'E_DATA_NOT_FOUND', [
      path,
      'directory',
    ]);
    await rejectsWith(collect(source, schemaXY), DataNotFoundError, 'E_DATA_NOT_FOUND', [path]);
  });

  test('should reject an empty file with DataEmptyError', async () => {
    const path = await files.write('.csv', '');
    const source = new CsvSource(path);
    await rejectsWith(source.inferSchema({ label: 'y' }), DataEmptyError, 'E_DATA_EMPTY', [path]);
    await rejectsWith(collect(source, schemaXY), DataEmptyError, 'E_DATA_EMPTY', [path]);
  });

  test('should reject a file with only a header with DataEmptyError', async () => {
    const path = await files.write('.csv', 'x,c,y\n\n');
    const source = new CsvSource(path);
    await rejectsWith(source.inferSchema({ label: 'y' }), DataEmptyError, 'E_DATA_EMPTY', [path]);
    await rejectsWith(collect(source, schemaXY), DataEmptyError, 'E_DATA_EMPTY', [path]);
  });

  test('should reject an unknown label with LabelNotFoundError listing the columns', async () => {
    const path = await files.write('.csv', 'x,c,y\n1,a,0\n');
    const source = new CsvSource(path);
    await rejectsWith(
      source.inferSchema({ label: 'target' }),
      LabelNotFoundError,
      'E_LABEL_NOT_FOUND',
      ["'target'", 'x, c, y'],
    );
    await rejectsWith(
      collect(source, { ...schemaXY, label: 'target' }),
      LabelNotFoundError,
      'E_LABEL_NOT_FOUND',
      ['x, c, y'],
    );
  });

  test('should reject a schema column missing from the header with DataParseError', async () => {
    const path = await files.write('.csv', 'x,y\n1,0\n');
    await rejectsWith(collect(new CsvSource(path), schemaXY), DataParseError, 'E_DATA_PARSE', [
      `${path}:1`,
      "'c'",
    ]);
  });

  test('should reject a header naming a column twice with DataParseError', async () => {
    const path = await files.write('.csv', 'x,x,y\n1,2,0\n');
    await rejectsWith(
      new CsvSource(path).inferSchema({ label: 'y' }),
      DataParseError,
      'E_DATA_PARSE',
      [`${path}:1`, "'x'"],
    );
  });

  test('should reject a row with the wrong number of fields naming file:line, expected and given', async () => {
    const { path, read } = await readXY('1,a,0\n2,b\n');
    await rejectsWith(read, DataParseError, 'E_DATA_PARSE', [
      `${path}:3`,
      'expected 3 fields',
      'got 2',
    ]);
  });

  test('should reject text in a numeric column naming file:line, the column and the value', async () => {
    const { path, read } = await readXY('1,a,0\n2,b,1\nabc,c,0\n');
    await rejectsWith(read, DataValueError, 'E_DATA_VALUE', [`${path}:4`, "'x'", "'abc'"]);
  });

  for (const literal of ['Infinity', '-Infinity', 'inf', '-inf']) {
    test(`should reject the literal ${literal} in a numeric column`, async () => {
      const { path, read } = await readXY(`1,a,0\n${literal},b,1\n`);
      await rejectsWith(read, DataValueError, 'E_DATA_VALUE', [`${path}:3`, "'x'", `'${literal}'`]);
    });
  }

  test('should keep a column holding inf numeric, so the literal is reported when batches are read', async () => {
    const path = await files.write('.csv', 'x,y\n1,0\ninf,1\n');
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    assert.deepEqual(schema.numeric, ['x']);
    await rejectsWith(collect(source, schema), DataValueError, 'E_DATA_VALUE', [`${path}:3`]);
  });

  test('should reject NaN as a value when a custom missing-value list leaves it out', async () => {
    const path = await files.write('.csv', 'x,c,y\n1,a,0\nNaN,b,1\n');
    await rejectsWith(
      collect(new CsvSource(path), { ...schemaXY, naValues: ['NA'] }),
      DataValueError,
      'E_DATA_VALUE',
      [`${path}:3`, "'NaN'"],
    );
  });

  test('should reject a number outside the float32 range', async () => {
    const { path, read } = await readXY('1e39,a,0\n');
    await rejectsWith(read, DataValueError, 'E_DATA_VALUE', [`${path}:2`, 'float32']);
  });

  test('should reject a row without a label', async () => {
    const { path, read } = await readXY('1,a,0\n2,b,\n');
    await rejectsWith(read, DataValueError, 'E_DATA_VALUE', [`${path}:3`, "'y'"]);
  });

  test('should reject a non-numeric or non-finite regression label', async () => {
    const text = await readXY('1,a,0.5\n2,b,high\n', 'regression');
    await rejectsWith(text.read, DataValueError, 'E_DATA_VALUE', [`${text.path}:3`, "'high'"]);
    const inf = await readXY('1,a,0.5\n2,b,inf\n', 'regression');
    await rejectsWith(inf.read, DataValueError, 'E_DATA_VALUE', [`${inf.path}:3`, "'inf'"]);
    const nan = await readXY('1,a,0.5\n2,b,NaN\n', 'regression');
    await rejectsWith(nan.read, DataValueError, 'E_DATA_VALUE', [
      `${nan.path}:3`,
      "'y' has no value",
    ]);
  });

  test('should reject an invalid quote with DataParseError at its line, and skip that record under skip', async () => {
    const path = await files.write('.csv', 'x,c,y\n1,"a"b,0\n2,c,1\n');
    const error = await rejectsWith(
      collect(new CsvSource(path), schemaXY),
      DataParseError,
      'E_DATA_PARSE',
      [`${path}:2`, 'malformed CSV'],
    );
    assert.ok(error.cause !== undefined);
    const batches = await collect(new CsvSource(path), schemaXY, { onBadRow: 'skip' });
    assert.deepEqual(
      batches.map((b) => [b.rowCount, b.skippedRows]),
      [[1, 1]],
    );
  });

  test('should reject an unterminated quote at the line where the field opened, even when skipping bad rows', async () => {
    const path = await files.write('.csv', 'x,c,y\n1,a,0\n2,"b,1\n3,c,0\n4,d,1\n');
    for (const onBadRow of ['error', 'skip'] as const) {
      await rejectsWith(
        collect(new CsvSource(path), schemaXY, { onBadRow }),
        DataParseError,
        'E_DATA_PARSE',
        [`${path}:3`, 'never closed'],
      );
    }
  });

  test('should skip bad rows, count them in the batch of records they fall in and keep row indexes stable', async () => {
    // Bad rows: 2 (field count), 3 (text), 6 (Infinity), 9 (no label), 10 (non-finite label).
    const body = [
      '0,a,0',
      '1,a,1',
      '2,a',
      'x,a,0',
      '4,a,1',
      '5,a,0',
      'Infinity,a,1',
      '7,a,0',
      '8,a,1',
      '9,a,',
      '10,a,Infinity',
      '11,a,1',
    ].join('\n');
    const path = await files.write('.csv', `x,c,y\n${body}\n`);
    const batches = await collect(new CsvSource(path), schemaXY, {
      batchRows: 3,
      onBadRow: 'skip',
    });
    // Batches are cut by records (3 each, bad ones included), so a bad record shortens its batch.
    assert.deepEqual(
      batches.map((b) => [...b.rowIndex]),
      [[0, 1], [4, 5], [7, 8], [11]],
    );
    assert.deepEqual(
      batches.map((b) => b.skippedRows),
      [1, 1, 1, 2],
    );
    assert.deepEqual(
      batches.map((b) => [...b.numeric]),
      [[0, 1], [4, 5], [7, 8], [11]],
    );
  });

  test('should count the bad rows of a batch of records with no good row in that batch', async () => {
    const path = await files.write('.csv', 'x,c,y\n1,a,0\n2,b,1\nbad,c,0\n3,d\n');
    const batches = await collect(new CsvSource(path), schemaXY, {
      batchRows: 2,
      onBadRow: 'skip',
    });
    assert.deepEqual(
      batches.map((b) => [b.id, b.rowCount, b.skippedRows]),
      [
        [0, 2, 0],
        [1, 0, 2],
      ],
    );
  });

  test('should reject a file whose every row is bad, even when skipping', async () => {
    const path = await files.write('.csv', 'x,c,y\nq,a,0\n1,a\n');
    await rejectsWith(
      collect(new CsvSource(path), schemaXY, { onBadRow: 'skip' }),
      DataEmptyError,
      'E_DATA_EMPTY',
      [path, '2'],
    );
  });

  test('should reject invalid options with InvalidOptionError naming the option and the value', async () => {
    const path = await files.write('.csv', 'x,c,y\n1,a,0\n');
    const source = new CsvSource(path);
    await rejectsWith(
      collect(source, schemaXY, { batchRows: 0 }),
      InvalidOptionError,
      'E_INVALID_OPTION',
      ['options.batchRows', 'got 0'],
    );
    await rejectsWith(
      collect(source, schemaXY, { onBadRow: 'ignore' as 'skip' }),
      InvalidOptionError,
      'E_INVALID_OPTION',
      ['options.onBadRow', "'ignore'"],
    );
    await rejectsWith(
      source.inferSchema({ label: 'y', sampleRows: 1.5 }),
      InvalidOptionError,
      'E_INVALID_OPTION',
      ['options.sampleRows'],
    );
    await rejectsWith(source.inferSchema({ label: '' }), InvalidOptionError, 'E_INVALID_OPTION', [
      'options.label',
    ]);
    await rejectsWith(
      source.inferSchema({ label: 'y', task: 'ranking' as 'regression' }),
      InvalidOptionError,
      'E_INVALID_OPTION',
      ['options.task', "'ranking'"],
    );
  });
});
