/**
 * The byte-level CSV parser against csv-parse: the same file must give the same rows, bit for bit,
 * whichever path a record takes (the fast one for quote-free records, csv-parse for the others).
 * The reference here parses the whole file with csv-parse and decodes every field as text.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { ChunkWriter } from '../../src/data/chunk-writer.js';
import { csvLayout, decodeTextFields, parseCsvChunk } from '../../src/data/csv-chunk.js';
import { kDefaultNa, NaValues } from '../../src/data/na-values.js';
import { scanRecords } from '../../src/data/record-scan.js';
import type { RawBatch, Schema } from '../../src/data/types.js';
import { DataValueError } from '../../src/errors.js';
import { Prng } from '../../src/model/prng.js';

const schema: Schema = {
  columns: [
    { name: 'a', kind: 'numeric' },
    { name: 'b', kind: 'numeric' },
    { name: 'city', kind: 'categorical' },
  ],
  numeric: ['a', 'b'],
  categorical: ['city'],
  label: 'y',
  task: 'classification',
};
const names = ['a', 'skip', 'b', 'city', 'y'];

/** The records after the header line. */
function dataPart(body: string): string {
  return body.slice(body.indexOf('\n') + 1);
}

/** The reference: csv-parse over the data records, every field decoded as text. */
function reference(body: string, na = kDefaultNa): RawBatch {
  const records = parse(dataPart(body), {
    relax_column_count: true,
    skip_empty_lines: true,
  }) as string[][];
  const layout = csvLayout(names, schema, na, 'ref.csv', 1);
  const out = new ChunkWriter(schema, records.length);
  records.forEach((fields, i) => {
    decodeTextFields(fields, layout, out, i + 2);
    out.commit(i);
  });
  return out.finish(0);
}

function fast(body: string, na = kDefaultNa): RawBatch {
  const bytes = new TextEncoder().encode(dataPart(body));
  const records = (
    parse(dataPart(body), { relax_column_count: true, skip_empty_lines: true }) as string[][]
  ).length;
  return parseCsvChunk(
    bytes,
    csvLayout(names, schema, na, 'fast.csv', 1),
    { id: 0, row: 0, line: 2 },
    records,
    'error',
  );
}

/** Bitwise equality of two batches' arrays and dictionaries. */
function assertSameBatch(got: RawBatch, want: RawBatch): void {
  assert.equal(got.rowCount, want.rowCount);
  assert.deepEqual(
    new Uint8Array(got.numeric.buffer, got.numeric.byteOffset, got.numeric.byteLength),
    new Uint8Array(want.numeric.buffer, want.numeric.byteOffset, want.numeric.byteLength),
  );
  assert.deepEqual(
    [...got.catCodes].map((c) => (c < 0 ? null : got.catDict[c])),
    [...want.catCodes].map((c) => (c < 0 ? null : want.catDict[c])),
  );
  assert.deepEqual(got.catDict, want.catDict);
  assert.deepEqual(got.labels, want.labels);
}

/** Number texts of every shape a file may hold. */
function numberText(rng: Prng): string {
  const digits = (n: number) =>
    Array.from({ length: n }, () => String(rng.nextUint32() % 10)).join('');
  const sign = ['', '-', '+'][rng.nextUint32() % 3]!;
  switch (rng.nextUint32() % 9) {
    case 0:
      return `${sign}${digits(1 + (rng.nextUint32() % 9))}`;
    case 1:
      return `${sign}${digits(1 + (rng.nextUint32() % 6))}.${digits(1 + (rng.nextUint32() % 9))}`;
    case 2:
      return `${sign}0.${'0'.repeat(rng.nextUint32() % 8)}${digits(1 + (rng.nextUint32() % 8))}`;
    case 3: // numpy's %.18e: 19 significant digits, past the fast path
      return `${sign}${digits(1)}.${digits(18)}e${rng.nextUint32() % 2 ? '-' : '+'}0${digits(1)}`;
    case 4:
      return `${sign}${digits(1 + (rng.nextUint32() % 4))}e${['', '-', '+'][rng.nextUint32() % 3]}${rng.nextUint32() % 30}`;
    case 5:
      return `${sign}.${digits(1 + (rng.nextUint32() % 7))}`;
    case 6:
      return `${sign}${digits(1 + (rng.nextUint32() % 3))}.`;
    case 7: // JavaScript's and Python's shortest round-trip form: up to 17 significant digits
      return String((rng.nextFloat() - 0.5) * 10 ** ((rng.nextUint32() % 12) - 6));
    default:
      return ` ${sign}${digits(2)}.${digits(3)} `;
  }
}

describe('CSV chunk parser', () => {
  test('should read 20,000 numbers of every shape exactly as Number() and csv-parse do', () => {
    const rng = new Prng(11);
    let body = 'a,skip,b,city,y\n';
    for (let i = 0; i < 10_000; i++)
      body += `${numberText(rng)},x,${numberText(rng)},c${i % 7},${i % 2}\n`;
    const got = fast(body);
    assertSameBatch(got, reference(body));
    // And each value is Number(text) rounded to float32.
    const rows = body
      .split('\n')
      .slice(1, 6)
      .map((line) => line.split(','));
    rows.forEach((fields, r) => assert.equal(got.numeric[r * 2], Math.fround(Number(fields[0]))));
  });

  test('should give the same rows on both paths for quoting, CRLF, a byte-order mark, missing values and blank lines', () => {
    const body =
      '\ufeffa,skip,b,city,y\r\n' +
      '1.5,"quoted, with comma",2,Paris,yes\r\n' +
      '\r\n' +
      '"3",x,4e2,"São ""SP"" Paulo",no\r\n' +
      'NA,"multi\r\nline",nan,,yes\r\n' +
      '-0,x,NULL,#N/A,no\r\n' +
      '  7 ,x,.5,<NA>,yes\r\n' +
      '8,x,9,"",no\r\n';
    assertSameBatch(fast(body), reference(body));
  });

  test('should follow a custom missing-value list on both paths', () => {
    const na = new NaValues(['-999', '?']);
    const body = 'a,skip,b,city,y\n-999,x,1,?,yes\n2,"x",-999,Lyon,no\n';
    const got = fast(body, na);
    assertSameBatch(got, reference(body, na));
    assert.deepEqual([...got.numeric], [NaN, 1, 2, NaN]);
    assert.equal(got.catCodes[0], -1);
  });

  test('should name file:line, the column and the value of a bad number found on the fast path', () => {
    const body = 'a,skip,b,city,y\n1,x,2,P,yes\n3,x,4x,P,no\n';
    assert.throws(
      () => fast(body),
      (err: unknown) =>
        err instanceof DataValueError &&
        /fast\.csv:3: column 'b': expected a number, got '4x'/.test(err.message),
    );
  });

  test('should find the same record boundaries when the bytes arrive one at a time', async () => {
    const body = 'a,"b\nc",d\n"e""",f\n\n"g\r\n""h""",i\r\n"j"\n';
    const bytes = new TextEncoder().encode(body);
    const whole = [];
    async function* once() {
      yield bytes;
    }
    for await (const c of scanRecords(once(), {
      quotes: true,
      records: 1,
      keepBytes: true,
      path: 'x',
    }))
      whole.push(c);
    const split = [];
    async function* oneByOne() {
      for (let i = 0; i < bytes.length; i++) yield bytes.subarray(i, i + 1);
    }
    for await (const c of scanRecords(oneByOne(), {
      quotes: true,
      records: 1,
      keepBytes: true,
      path: 'x',
    }))
      split.push(c);
    assert.deepEqual(split, whole);
    assert.deepEqual(
      whole.map((c) => [c.line, new TextDecoder().decode(c.bytes)]),
      [
        [1, 'a,"b\nc",d\n'],
        [3, '"e""",f\n'],
        [4, '\n"g\r\n""h""",i\r\n'],
        [7, '"j"\n'],
      ],
    );
  });
});
