/**
 * Missing values, column types and bad files, as users' files bring them: pandas' NA tokens, a
 * typo in a numeric column, columns forced to a type, gzip, files that are not text at all.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { afterEach, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { CsvSource } from '../../src/data/csv-source.js';
import { kDefaultNaValues } from '../../src/data/na-values.js';
import { openSource } from '../../src/data/open-source.js';
import {
  DataParseError,
  DataValueError,
  InvalidOptionError,
  LabelNotFoundError,
} from '../../src/errors.js';
import { categories, collect, rejectsWith, TempFiles } from './data-helpers.js';

const files = new TempFiles();
afterEach(() => files.cleanup());

describe('missing values', () => {
  test("should read every one of pandas' default NA tokens as missing, in numeric and categorical columns", async () => {
    const rows = kDefaultNaValues.map((token, i) => `${token},${token},${i % 2}`);
    const path = await files.write(
      '.csv',
      `x,c,y\n1,a,0\n2,b,1\n${rows.map((r) => (r.includes(',,') ? r : r)).join('\n')}\n`,
    );
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    assert.deepEqual([schema.numeric, schema.categorical], [['x'], ['c']]);
    const [batch] = await collect(source, schema);
    assert.deepEqual(
      [...batch!.numeric].slice(2),
      kDefaultNaValues.map(() => NaN),
    );
    assert.deepEqual(
      categories(batch!, 1).slice(2),
      kDefaultNaValues.map(() => [undefined]),
    );
  });

  test('should keep infinity an error in a numeric column', async () => {
    const path = await files.write('.csv', 'x,y\n1,0\ninf,1\n');
    const source = new CsvSource(path);
    await rejectsWith(
      collect(source, await source.inferSchema({ label: 'y' })),
      DataValueError,
      'E_DATA_VALUE',
      [`${path}:3`, "'inf'"],
    );
  });

  test('should read only the given tokens (and the empty field) with naValues', async () => {
    const path = await files.write('.csv', 'x,c,y\n-999,?,0\n2,NA,1\n,b,0\n');
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y', naValues: ['-999', '?'] });
    assert.deepEqual(schema.naValues, ['-999', '?']);
    const [batch] = await collect(source, schema);
    assert.deepEqual([...batch!.numeric], [NaN, 2, NaN]);
    // 'NA' is a category now.
    assert.deepEqual(categories(batch!, 1), [[undefined], ['NA'], ['b']]);
  });
});

describe('column types', () => {
  /** A 569-row numeric column with one typo on line 300. */
  async function typoFile(): Promise<string> {
    const rows = Array.from(
      { length: 569 },
      (_, i) => `${i === 298 ? '1.2.3' : (i * 0.37).toFixed(2)},${i % 2}`,
    );
    return files.write('.csv', `x,y\n${rows.join('\n')}\n`);
  }

  test('should keep a column numeric when 99% of its values are numbers, and report the typo with file:line:column', async () => {
    const path = await typoFile();
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    assert.deepEqual([schema.numeric, schema.categorical], [['x'], []]);
    await rejectsWith(collect(source, schema), DataValueError, 'E_DATA_VALUE', [
      `${path}:300`,
      "'x'",
      "'1.2.3'",
    ]);
    const skipped = await collect(source, schema, { onBadRow: 'skip' });
    assert.deepEqual([skipped[0]!.rowCount, skipped[0]!.skippedRows], [568, 1]);
  });

  test('should make a column categorical when fewer than 99% of its values are numbers', async () => {
    const rows = Array.from({ length: 50 }, (_, i) => `${i === 3 ? 'n/a-ish' : i},${i % 2}`);
    const path = await files.write('.csv', `x,y\n${rows.join('\n')}\n`);
    const schema = await new CsvSource(path).inferSchema({ label: 'y' });
    assert.deepEqual(schema.categorical, ['x']);
  });

  test('should force kinds with categorical and numeric, and refuse names that are not columns', async () => {
    const path = await files.write('.csv', 'zip,amount,y\n75001,1.5,0\n69002,x,1\n');
    const source = new CsvSource(path);
    const schema = await source.inferSchema({
      label: 'y',
      categorical: ['zip'],
      numeric: ['amount'],
    });
    assert.deepEqual([schema.numeric, schema.categorical], [['amount'], ['zip']]);
    await rejectsWith(collect(source, schema), DataValueError, 'E_DATA_VALUE', [
      `${path}:3`,
      "'amount'",
      "'x'",
    ]);
    await rejectsWith(
      source.inferSchema({ label: 'y', categorical: ['zipcode'] }),
      InvalidOptionError,
      'E_INVALID_OPTION',
      ["'zipcode'", 'zip, amount, y'],
    );
    await rejectsWith(
      source.inferSchema({ label: 'y', numeric: ['y'] }),
      InvalidOptionError,
      'E_INVALID_OPTION',
      ['label'],
    );
    await rejectsWith(
      source.inferSchema({ label: 'y', numeric: ['zip'], categorical: ['zip'] }),
      InvalidOptionError,
      'E_INVALID_OPTION',
      ['both'],
    );
  });

  test('should list at most 20 columns, and the count, when the label is missing', async () => {
    const names = Array.from({ length: 5000 }, (_, i) => `c${i}`);
    const path = await files.write(
      '.csv',
      `${names.join(',')}\n${names.map(() => '1').join(',')}\n`,
    );
    const error = await rejectsWith(
      new CsvSource(path).inferSchema({ label: 'target' }),
      LabelNotFoundError,
      'E_LABEL_NOT_FOUND',
      ['c0, c1', '5000 columns in all'],
    );
    assert.ok(error.message.length < 400, `message of ${error.message.length} characters`);
  });

  test("should name an empty header field 'Unnamed: <index>' as pandas does", async () => {
    const path = await files.write('.csv', '"",x,y\n"1",2,0\n"2",3,1\n');
    const schema = await new CsvSource(path).inferSchema({ label: 'y' });
    assert.deepEqual(
      schema.columns.map((c) => c.name),
      ['Unnamed: 0', 'x'],
    );
  });
});

describe('gzip and files that are not text', () => {
  const body = 'x,c,y\n1.5,"a,b",yes\n2,c,no\n\n3,"multi\nline",yes\n';

  test('should read a .csv.gz and a .jsonl.gz as the same batches as the files themselves', async () => {
    const plain = await files.write('.csv', body);
    const packed = files.path('.csv.gz');
    await writeFile(packed, gzipSync(body));
    const a = openSource(plain);
    const b = openSource(packed);
    const schema = await a.inferSchema({ label: 'y' });
    assert.deepEqual(await b.inferSchema({ label: 'y' }), schema);
    assert.deepEqual(
      await collect(b, schema, { batchRows: 2 }),
      await collect(a, schema, { batchRows: 2 }),
    );
    assert.equal(b.byteRanges!.ranged, false);

    const lines = '{"x":1,"y":"a"}\n{"x":2,"y":"b"}\n';
    const jsonl = files.path('.jsonl.gz');
    await writeFile(jsonl, Buffer.concat([gzipSync(lines), gzipSync(lines)])); // two gzip members
    const source = openSource(jsonl);
    const batches = await collect(source, await source.inferSchema({ label: 'y' }));
    assert.equal(batches[0]!.rowCount, 4);
  });

  test('should give each range of a gzip file its bytes, and parse a range from them', async () => {
    const packed = files.path('.csv.gz');
    await writeFile(packed, gzipSync(body));
    const source = openSource(packed);
    const schema = await source.inferSchema({ label: 'y' });
    const spans = [];
    for await (const span of source.byteRanges!.spans(schema, { batchRows: 1, onBadRow: 'error' }))
      spans.push(span);
    assert.ok(spans.every((s) => s.bytes !== undefined));
    const again = openSource(source.byteRanges!.reference);
    const read = await Promise.all(
      spans.map((s) => again.byteRanges!.readSpan(schema, s, { batchRows: 1, onBadRow: 'error' })),
    );
    assert.deepEqual(read, await collect(source, schema, { batchRows: 1 }));
  });

  test('should refuse a truncated gzip file with a coded error', async () => {
    const packed = files.path('.csv.gz');
    // Incompressible rows, so that the first megabytes decompress before the stream breaks off.
    const rows = Array.from(
      { length: 100_000 },
      (_, i) => `${Math.sin(i * 7.1).toFixed(9)},c${i % 5},${i % 2 ? 'yes' : 'no'}`,
    );
    const whole = gzipSync(`x,c,y\n${rows.join('\n')}\n`);
    await writeFile(packed, whole.subarray(0, whole.length - 40));
    const source = openSource(packed);
    const schema = await source.inferSchema({ label: 'y' });
    await rejectsWith(collect(source, schema), DataParseError, 'E_DATA_PARSE', [
      packed,
      'truncated',
    ]);
  });

  for (const [what, bytes, says] of [
    ['gzip data named .csv', gzipSync(body), 'gzip-compressed data'],
    [
      'an .xlsx workbook',
      Buffer.from('PK\u0003\u0004\u0014\u0000\u0006\u0000rest of the zip', 'latin1'),
      'ZIP archive',
    ],
    ['a Parquet file', Buffer.from('PAR1\u0015\u0004\u0015binary', 'latin1'), 'Parquet'],
    ['binary data', Buffer.from([0x61, 0x2c, 0x62, 0x0a, 0x00, 0x01, 0x02]), 'NUL bytes'],
    ['UTF-16 text', Buffer.from('\ufeffx,y\n1,2\n', 'utf16le'), 'UTF-16'],
  ] as const) {
    test(`should say what a CSV file looks like when it is ${what}`, async () => {
      const path = files.path('.csv');
      await writeFile(path, bytes);
      await rejectsWith(
        new CsvSource(path).inferSchema({ label: 'y' }),
        DataParseError,
        'E_DATA_PARSE',
        [path, 'is not a CSV file', says],
      );
    });
  }

  test('should answer a deeply nested JSON Lines value with a coded error, not a RangeError', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const path = await files.write('.jsonl', `{"x": 1, "y": 0}\n{"x": ${deep}, "y": 1}\n`);
    const source = openSource(path);
    const schema = await source.inferSchema({ label: 'y', sampleRows: 1 });
    await rejectsWith(collect(source, schema), DataValueError, 'E_DATA_VALUE', [
      `${path}:2`,
      "'x'",
      'nested too deeply',
    ]);
  });
});
