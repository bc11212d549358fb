import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { CsvSource } from '../../src/data/csv-source.js';
import { DataValueError } from '../../src/errors.js';
import { categories, classNames, collect, rejectsWith, TempFiles } from './data-helpers.js';

const files = new TempFiles();
afterEach(() => files.cleanup());

function rowsCsv(n: number): string {
  let text = 'x,kind,y\n';
  for (let i = 0; i < n; i++) text += `${i},${i % 2 === 0 ? 'even' : 'odd'},${i % 3}\n`;
  return text;
}

describe('CsvSource', () => {
  test('should infer numeric and categorical columns in file order, label excluded', async () => {
    const path = await files.write('.csv', 'a,city,y,b\n1,Oslo,0,2.5\n2,Rome,1,-1e3\n,NA,0,\n');
    const schema = await new CsvSource(path).inferSchema({ label: 'y' });
    assert.deepEqual(schema.columns, [
      { name: 'a', kind: 'numeric' },
      { name: 'city', kind: 'categorical' },
      { name: 'b', kind: 'numeric' },
    ]);
    assert.deepEqual(schema.numeric, ['a', 'b']);
    assert.deepEqual(schema.categorical, ['city']);
    assert.equal(schema.label, 'y');
    assert.equal(schema.task, 'classification');
  });

  test('should treat a column with any non-numeric value as categorical', async () => {
    const path = await files.write('.csv', 'code,y\n1,0\n2,1\n0x1F,0\n');
    const schema = await new CsvSource(path).inferSchema({ label: 'y' });
    assert.deepEqual(schema.categorical, ['code']);
  });

  test('should read quoted fields holding commas, quotes and line breaks', async () => {
    const path = await files.write(
      '.csv',
      'name,n,y\n"Smith, J",1,a\n"say ""hi""",2,b\n"two\nlines",3,a\n',
    );
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    const [batch] = await collect(source, schema);
    assert.deepEqual(categories(batch!, 1).flat(), ['Smith, J', 'say "hi"', 'two\nlines']);
    assert.deepEqual([...batch!.numeric], [1, 2, 3]);
  });

  test('should read empty and NA values as missing: NaN in numeric, -1 in categorical columns', async () => {
    const path = await files.write('.csv', 'x,c,y\n1,a,0\n,b,1\nNA,,0\n NA ,NA,1\n');
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    const [batch] = await collect(source, schema);
    assert.deepEqual([...batch!.numeric], [1, NaN, NaN, NaN]);
    assert.deepEqual([...batch!.catCodes], [0, 1, -1, -1]);
    assert.deepEqual(batch!.catDict, ['a', 'b']);
  });

  test('should dictionary-encode labels per batch in order of first appearance', async () => {
    const path = await files.write('.csv', 'x,y\n1,cat\n2,dog\n3,cat\n4,bird\n5,dog\n');
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    const [first, second] = await collect(source, schema, { batchRows: 3 });
    assert.deepEqual(first!.labels, {
      kind: 'categorical',
      codes: Int32Array.from([0, 1, 0]),
      dict: ['cat', 'dog'],
    });
    assert.deepEqual(second!.labels, {
      kind: 'categorical',
      codes: Int32Array.from([0, 1]),
      dict: ['bird', 'dog'],
    });
  });

  test('should share one categorical dictionary between all categorical columns of a batch', async () => {
    const path = await files.write('.csv', 'from,to,y\nOslo,Rome,0\nRome,Paris,1\n');
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    const [batch] = await collect(source, schema);
    assert.deepEqual(batch!.catDict, ['Oslo', 'Rome', 'Paris']);
    assert.deepEqual([...batch!.catCodes], [0, 1, 1, 2]);
  });

  test('should cut 10 rows into batches of 4, 4 and 2 with ids and row indexes', async () => {
    const path = await files.write('.csv', rowsCsv(10));
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    const batches = await collect(source, schema, { batchRows: 4 });
    assert.deepEqual(
      batches.map((b) => b.rowCount),
      [4, 4, 2],
    );
    assert.deepEqual(
      batches.map((b) => b.id),
      [0, 1, 2],
    );
    assert.deepEqual(
      batches.map((b) => [...b.rowIndex]),
      [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [8, 9],
      ],
    );
    assert.deepEqual([...batches[2]!.numeric], [8, 9]);
    assert.equal(batches[2]!.catCodes.length, 2);
    assert.equal((batches[2]!.labels as { codes: Int32Array }).codes.length, 2);
    assert.ok(batches.every((b) => b.skippedRows === 0));
  });

  test('should give every batch its own exact-length buffers, transferable to a worker', async () => {
    const path = await files.write('.csv', rowsCsv(10));
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    const batches = await collect(source, schema, { batchRows: 4 });
    const buffers = batches.flatMap((b) => [
      b.rowIndex,
      b.numeric,
      b.catCodes,
      (b.labels as { codes: Int32Array }).codes,
    ]);
    for (const array of buffers) assert.equal(array.byteLength, array.buffer.byteLength);
    assert.equal(new Set(buffers.map((a) => a.buffer)).size, buffers.length);
    const copy = structuredClone(batches[0]!, {
      transfer: [batches[0]!.numeric.buffer as ArrayBuffer],
    });
    assert.deepEqual([...copy.numeric], [0, 1, 2, 3]);
    assert.deepEqual([...batches[1]!.numeric], [4, 5, 6, 7]);
  });

  test('should infer classification for text labels', async () => {
    const path = await files.write('.csv', 'x,y\n1,yes\n2,no\n');
    assert.equal((await new CsvSource(path).inferSchema({ label: 'y' })).task, 'classification');
  });

  test('should infer classification for integer labels with at most 50 distinct values', async () => {
    const fifty = Array.from({ length: 50 }, (_, i) => `${i},${i}`).join('\n');
    const path = await files.write('.csv', `x,y\n${fifty}\n`);
    assert.equal((await new CsvSource(path).inferSchema({ label: 'y' })).task, 'classification');
  });

  test('should infer regression for integer labels with more than 50 distinct values', async () => {
    const many = Array.from({ length: 51 }, (_, i) => `${i},${i}`).join('\n');
    const path = await files.write('.csv', `x,y\n${many}\n`);
    assert.equal((await new CsvSource(path).inferSchema({ label: 'y' })).task, 'regression');
  });

  test('should infer regression for non-integer numeric labels', async () => {
    const path = await files.write('.csv', 'x,y\n1,0.5\n2,1\n3,\n');
    assert.equal((await new CsvSource(path).inferSchema({ label: 'y' })).task, 'regression');
  });

  test('should use the task given instead of inferring it', async () => {
    const path = await files.write('.csv', 'x,y\n1,0\n2,1\n');
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y', task: 'regression' });
    assert.equal(schema.task, 'regression');
    const [batch] = await collect(source, schema);
    assert.deepEqual(batch!.labels, { kind: 'numeric', values: Float32Array.from([0, 1]) });
  });

  test('should encode numeric class labels as canonical strings', async () => {
    const path = await files.write('.csv', 'x,y\n1,0\n2,1.0\n3,1\n4,+0\n');
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    const [batch] = await collect(source, schema);
    assert.deepEqual(classNames(batch!), ['0', '1', '1', '0']);
  });

  test('should parse regression labels as numbers', async () => {
    const path = await files.write('.csv', 'x,y\n1,0.25\n2,-3e2\n');
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    const [batch] = await collect(source, schema);
    assert.deepEqual(batch!.labels, { kind: 'numeric', values: Float32Array.from([0.25, -300]) });
  });

  test('should look at no more than sampleRows rows to infer the schema', async () => {
    const path = await files.write('.csv', 'x,y\n1,0\n2,1\nthree,0\n');
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y', sampleRows: 2 });
    assert.deepEqual(schema.numeric, ['x']);
    await rejectsWith(collect(source, schema), DataValueError, 'E_DATA_VALUE', [
      `${path}:4`,
      "'x'",
      "'three'",
    ]);
  });

  test('should ignore blank lines and a byte-order mark', async () => {
    const path = await files.write('.csv', '\uFEFFx,y\n\n1,a\n\n\n2,b\n');
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    assert.deepEqual(schema.numeric, ['x']);
    const [batch] = await collect(source, schema);
    assert.deepEqual([...batch!.rowIndex], [0, 1]);
  });

  test('should ignore file columns that the schema does not name', async () => {
    const path = await files.write('.csv', 'id,x,y\nr1,1,0\nr2,2,1\n');
    const source = new CsvSource(path);
    const full = await source.inferSchema({ label: 'y' });
    const schema = { ...full, columns: [full.columns[1]!], categorical: [] };
    const [batch] = await collect(source, schema);
    assert.deepEqual([...batch!.numeric], [1, 2]);
    assert.equal(batch!.catCodes.length, 0);
  });

  test('should name the starting line of a row after multi-line quoted fields', async () => {
    const path = await files.write('.csv', 'x,note,y\n1,"a\nb\nc",0\n2,ok,1\nbad,ok,0\n');
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y', sampleRows: 2 });
    await rejectsWith(collect(source, schema), DataValueError, 'E_DATA_VALUE', [`${path}:6:`]);
  });

  test('should count CRLF line ends inside quoted fields as one line', async () => {
    const path = await files.write('.csv', 'x,note,y\r\n1,"a\r\nb",0\r\n2,ok,1\r\nbad,ok,0\r\n');
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y', sampleRows: 2 });
    await rejectsWith(collect(source, schema), DataValueError, 'E_DATA_VALUE', [`${path}:5:`]);
  });

  test('should stop reading when the consumer stops early', async () => {
    const path = await files.write('.csv', rowsCsv(50_000));
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y', sampleRows: 100 });
    let seen = 0;
    for await (const batch of source.batches(schema, { batchRows: 100, onBadRow: 'error' })) {
      seen += batch.rowCount;
      break;
    }
    assert.equal(seen, 100);
  });
});
