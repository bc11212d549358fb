import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { JsonlSource } from '../../src/data/jsonl-source.js';
import {
  DataEmptyError,
  DataNotFoundError,
  DataParseError,
  DataValueError,
  LabelNotFoundError,
} from '../../src/errors.js';
import { categories, classNames, collect, rejectsWith, TempFiles } from './data-helpers.js';

const files = new TempFiles();
afterEach(() => files.cleanup());

function jsonl(...rows: unknown[]): string {
  return rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';
}

describe('JsonlSource', () => {
  test('should take the columns from the union of the sampled keys, in order of first appearance', async () => {
    const path = await files.write(
      '.jsonl',
      jsonl({ a: 1, y: 'p' }, { a: 2, city: 'Oslo', y: 'q' }, { b: 0.5, y: 'p' }),
    );
    const schema = await new JsonlSource(path).inferSchema({ label: 'y' });
    assert.deepEqual(schema.columns, [
      { name: 'a', kind: 'numeric' },
      { name: 'city', kind: 'categorical' },
      { name: 'b', kind: 'numeric' },
    ]);
    assert.equal(schema.task, 'classification');
  });

  test('should read numbers as numeric, strings as categorical and null or absent keys as missing', async () => {
    const path = await files.write(
      '.jsonl',
      jsonl(
        { x: 1.5, c: 'a', y: 0 },
        { x: null, y: 1 },
        { x: '2', c: null, y: 0 },
        { c: true, y: 1 },
      ),
    );
    const source = new JsonlSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    assert.deepEqual(schema.numeric, ['x']);
    assert.deepEqual(schema.categorical, ['c']);
    const [batch] = await collect(source, schema);
    assert.deepEqual([...batch!.numeric], [1.5, NaN, 2, NaN]);
    assert.deepEqual(categories(batch!, 1).flat(), ['a', undefined, undefined, 'true']);
    assert.deepEqual(classNames(batch!), ['0', '1', '0', '1']);
  });

  test('should keep a column of quoted numbers categorical', async () => {
    const path = await files.write(
      '.jsonl',
      jsonl({ zip: '02139', y: 'a' }, { zip: '10001', y: 'b' }),
    );
    const schema = await new JsonlSource(path).inferSchema({ label: 'y' });
    assert.deepEqual(schema.categorical, ['zip']);
  });

  test('should infer regression for a label of non-integer numbers', async () => {
    const path = await files.write('.jsonl', jsonl({ x: 1, y: 0.5 }, { x: 2, y: 1.25 }));
    const source = new JsonlSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    assert.equal(schema.task, 'regression');
    const [batch] = await collect(source, schema);
    assert.deepEqual(batch!.labels, { kind: 'numeric', values: Float32Array.from([0.5, 1.25]) });
  });

  test('should ignore blank lines, which do not count as rows', async () => {
    const path = await files.write(
      '.jsonl',
      `\n${jsonl({ x: 1, y: 'a' })}\n  \r\n${jsonl({ x: 2, y: 'b' })}`,
    );
    const source = new JsonlSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    const batches = await collect(source, schema, { batchRows: 1 });
    assert.deepEqual(
      batches.map((b) => [...b.rowIndex]),
      [[0], [1]],
    );
  });

  test('should cut batches and keep row indexes like the CSV source', async () => {
    const rows = Array.from({ length: 10 }, (_, i) => ({ x: i, y: i % 2 }));
    const path = await files.write('.ndjson', jsonl(...rows));
    const source = new JsonlSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    const batches = await collect(source, schema, { batchRows: 4 });
    assert.deepEqual(
      batches.map((b) => [b.id, b.rowCount, b.rowIndex[0]]),
      [
        [0, 4, 0],
        [1, 4, 4],
        [2, 2, 8],
      ],
    );
  });

  test('should reject a malformed line with DataParseError naming file:line', async () => {
    const path = await files.write(
      '.jsonl',
      jsonl({ x: 1, y: 'a' }, '', '{"x": 2, "y": ', { x: 3, y: 'b' }),
    );
    const source = new JsonlSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    await rejectsWith(collect(source, schema), DataParseError, 'E_DATA_PARSE', [
      `${path}:3`,
      'malformed JSON',
    ]);
  });

  test('should reject a line that is not an object with DataParseError', async () => {
    const path = await files.write('.jsonl', jsonl({ x: 1, y: 'a' }, [1, 'a']));
    const source = new JsonlSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    await rejectsWith(collect(source, schema), DataParseError, 'E_DATA_PARSE', [
      `${path}:2`,
      'an array',
    ]);
  });

  test('should reject bad values with DataValueError naming file:line, column and value', async () => {
    const cases: [unknown, string[]][] = [
      [{ x: 'abc', y: 'a' }, ["'x'", "'abc'"]],
      [{ x: 'Infinity', y: 'a' }, ["'x'", "'Infinity'"]],
      [{ x: [1], y: 'a' }, ["'x'", 'an array']],
      [{ x: 1 }, ["'y'"]],
      [{ x: 1, y: null }, ["'y'"]],
    ];
    for (const [bad, fragments] of cases) {
      const path = await files.write('.jsonl', jsonl({ x: 1, y: 'a' }, bad));
      const source = new JsonlSource(path);
      const schema = await source.inferSchema({ label: 'y', sampleRows: 1 });
      await rejectsWith(collect(source, schema), DataValueError, 'E_DATA_VALUE', [
        `${path}:2`,
        ...fragments,
      ]);
    }
  });

  test('should skip bad lines, count them in their batch of lines and keep later row indexes stable', async () => {
    const path = await files.write(
      '.jsonl',
      jsonl({ x: 0, y: 'a' }, '{oops', { x: 2, y: 'b' }, { x: 'q', y: 'a' }, { x: 4, y: 'b' }),
    );
    const source = new JsonlSource(path);
    const schema = await source.inferSchema({ label: 'y', sampleRows: 1 });
    const batches = await collect(source, schema, { batchRows: 2, onBadRow: 'skip' });
    assert.deepEqual(
      batches.map((b) => [...b.rowIndex]),
      [[0], [2], [4]],
    );
    assert.deepEqual(
      batches.map((b) => b.skippedRows),
      [1, 1, 0],
    );
  });

  test('should not treat inherited property names as keys', async () => {
    const path = await files.write('.jsonl', jsonl({ x: 1, y: 'a' }, { y: 'b' }));
    const source = new JsonlSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    const withConstructor = {
      ...schema,
      columns: [],
      numeric: ['constructor'],
      categorical: ['toString'],
    };
    const [batch] = await collect(source, withConstructor);
    assert.deepEqual([...batch!.numeric], [NaN, NaN]);
    assert.deepEqual([...batch!.catCodes], [-1, -1]);
  });

  test('should reject missing, empty and label-less files with coded errors', async () => {
    const missing = files.path('.jsonl');
    await rejectsWith(
      new JsonlSource(missing).inferSchema({ label: 'y' }),
      DataNotFoundError,
      'E_DATA_NOT_FOUND',
      [missing],
    );
    const empty = await files.write('.jsonl', '\n\n');
    await rejectsWith(
      new JsonlSource(empty).inferSchema({ label: 'y' }),
      DataEmptyError,
      'E_DATA_EMPTY',
      [empty],
    );
    const noLabel = await files.write('.jsonl', jsonl({ x: 1, z: 2 }));
    await rejectsWith(
      new JsonlSource(noLabel).inferSchema({ label: 'y' }),
      LabelNotFoundError,
      'E_LABEL_NOT_FOUND',
      ['x, z'],
    );
    const garbage = await files.write('.jsonl', 'not json\n');
    await rejectsWith(
      new JsonlSource(garbage).inferSchema({ label: 'y' }),
      DataParseError,
      'E_DATA_PARSE',
      [`${garbage}:1`],
    );
  });
});
