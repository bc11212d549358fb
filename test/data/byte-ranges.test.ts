/**
 * Batches by byte range: what a distributed run's workers read instead of receiving rows. Every
 * range must parse into exactly the batch a full read yields (same rows, row indexes, skipped
 * counts, dictionaries), and errors must name the same file line.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { afterEach, describe, test } from 'node:test';
import { CsvSource } from '../../src/data/csv-source.js';
import { JsonlSource } from '../../src/data/jsonl-source.js';
import { openSource } from '../../src/data/open-source.js';
import type { BatchOptions, BatchSpan, DataSource, RawBatch } from '../../src/data/types.js';
import { DataNotFoundError, DataParseError, DataValueError } from '../../src/errors.js';
import { collect, rejectsWith, TempFiles } from './data-helpers.js';

const files = new TempFiles();
afterEach(() => files.cleanup());

async function spans(
  source: DataSource,
  label: string,
  options: BatchOptions,
): Promise<BatchSpan[]> {
  const schema = await source.inferSchema({ label });
  const out: BatchSpan[] = [];
  for await (const span of source.byteRanges!.spans(schema, options)) out.push(span);
  return out;
}

/** Asserts that reading every range gives the full read's batches, field by field. */
async function assertRangesMatch(
  source: DataSource,
  label: string,
  options: BatchOptions,
): Promise<BatchSpan[]> {
  const schema = await source.inferSchema({ label });
  const full = await collect(source, schema, options);
  const found = await spans(source, label, options);
  assert.equal(found.length, full.length, 'as many ranges as batches');
  // A fresh source, as on a worker that reopens the file from the reference.
  const worker = openSource(source.byteRanges!.reference);
  const read: RawBatch[] = [];
  for (const span of found) read.push(await worker.byteRanges!.readSpan(schema, span, options));
  assert.deepEqual(read, full);
  // The ranges tile the data: each starts where the last ended.
  for (let i = 1; i < found.length; i++) assert.equal(found[i]!.start, found[i - 1]!.end);
  return found;
}

/** CSV rows with the awkward parts: quoted commas, quotes and line breaks, blank lines, bad rows. */
function awkwardCsv(rows: number, eol: string, bom: boolean): string {
  let text = `${bom ? '\ufeff' : ''}x,note,city,y${eol}`;
  for (let i = 0; i < rows; i++) {
    if (i % 7 === 3) text += eol; // blank line
    const note =
      i % 5 === 0 ? `"line one${eol}line ""two"", with comma"` : i % 3 === 0 ? '"a,b"' : 'plain';
    // Bad rows (skipped with onBadRow skip): a missing label, a row with a field too many.
    const y = i % 11 === 6 ? '' : String(i % 3);
    const extra = i % 17 === 9 ? ',9' : '';
    text += `${i * 0.5},${note},${['Oslo', 'Rome', 'Lima', 'Åre'][i % 4]},${y}${extra}${eol}`;
  }
  return text;
}

describe('batches by byte range', () => {
  for (const [name, eol, bom] of [
    ['LF', '\n', false],
    ['CRLF with a byte-order mark', '\r\n', true],
  ] as const) {
    test(`should read every CSV range (${name}, quoted line breaks, blank and bad rows) as the full read does`, async () => {
      const path = await files.write('.csv', awkwardCsv(200, eol, bom));
      const found = await assertRangesMatch(new CsvSource(path), 'y', {
        batchRows: 16,
        onBadRow: 'skip',
      });
      assert.ok(found.length > 5);
      // Bad rows were there to skip, in the ranges' batches too.
      const schema = await new CsvSource(path).inferSchema({ label: 'y' });
      const skipped = (
        await collect(new CsvSource(path), schema, { batchRows: 16, onBadRow: 'skip' })
      ).reduce((n, b) => n + b.skippedRows, 0);
      assert.ok(skipped >= 20, `skipped ${skipped}`);
      assert.equal(found[0]!.line, 2);
    });
  }

  test('should read every JSON Lines range (blank lines, CRLF, multi-byte text, bad rows) as the full read does', async () => {
    let text = '\ufeff';
    for (let i = 0; i < 150; i++) {
      if (i % 9 === 4) text += '   \r\n';
      text +=
        i % 13 === 7
          ? 'not json\r\n'
          : `${JSON.stringify({ x: i / 3, city: ['Zürich', '東京', 'Lima'][i % 3], y: i % 2 === 0 ? 'even' : 'odd' })}\n`;
    }
    const path = await files.write('.jsonl', text);
    await assertRangesMatch(new JsonlSource(path), 'y', { batchRows: 10, onBadRow: 'skip' });
  });

  test('should give one range for a file smaller than a batch, and ranges of exact batches', async () => {
    const path = await files.write('.csv', 'x,y\n1,a\n2,b\n3,a\n4,b\n');
    await assertRangesMatch(new CsvSource(path), 'y', { batchRows: 100, onBadRow: 'error' });
    await assertRangesMatch(new CsvSource(path), 'y', { batchRows: 2, onBadRow: 'error' });
  });

  test('should scan past a bad row (the scan parses nothing) and fail its range with the same file:line message as a full read', async () => {
    const path = await files.write('.csv', awkwardCsv(60, '\n', false));
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    const options: BatchOptions = { batchRows: 8, onBadRow: 'error' };
    const full = await rejectsWith(
      collect(source, schema, options),
      DataValueError,
      'E_DATA_VALUE',
      ['has no value'],
    );
    const found = await spans(source, 'y', options);
    let first: Error | undefined;
    for (const span of found) {
      first = await source.byteRanges!.readSpan(schema, span, options).then(
        () => undefined,
        (err: Error) => err,
      );
      if (first) break;
    }
    assert.ok(first instanceof DataValueError);
    assert.equal(first.message, full.message);
  });

  test('should name the file line of a bad row found by a worker reading its range', async () => {
    // The driver scans with skip; a worker that reads with error (as if the file had changed
    // under it) reports the line in the whole file, not in its range.
    const path = await files.write('.csv', awkwardCsv(60, '\n', false));
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    const found = await spans(source, 'y', { batchRows: 8, onBadRow: 'skip' });
    const full = await rejectsWith(
      collect(source, schema, { batchRows: 8, onBadRow: 'error' }),
      DataValueError,
      'E_DATA_VALUE',
    );
    const first = found[0]!;
    const err = await rejectsWith(
      source.byteRanges.readSpan(schema, first, { batchRows: 8, onBadRow: 'error' }),
      DataValueError,
      'E_DATA_VALUE',
    );
    assert.equal(err.message, full.message);
  });

  test("should refuse a range of a file that differs from the driver's, and name a missing file", async () => {
    const path = await files.write('.csv', 'x,y\n1,a\n2,b\n3,a\n4,b\n');
    const source = new CsvSource(path);
    const schema = await source.inferSchema({ label: 'y' });
    const [span] = await spans(source, 'y', { batchRows: 2, onBadRow: 'error' });
    await writeFile(path, 'x,y\n1,a\n22,b\n3,a\n4,b\n');
    await rejectsWith(
      new CsvSource(path).byteRanges.readSpan(schema, span!, { batchRows: 2, onBadRow: 'error' }),
      DataParseError,
      'E_DATA_PARSE',
      ['--ship-rows'],
    );
    await rejectsWith(
      new CsvSource(`${path}.gone`).byteRanges.readSpan(schema, span!, {
        batchRows: 2,
        onBadRow: 'error',
      }),
      DataNotFoundError,
      'E_DATA_NOT_FOUND',
      ['.gone'],
    );
  });

  test('should take a file named by absolute path as shared, and a relative one as not', () => {
    assert.equal(openSource('/data/sales.csv').byteRanges?.shared, true);
    assert.equal(openSource('jsonl:/data/events.jsonl').byteRanges?.shared, true);
    assert.equal(openSource('data/sales.csv', { cwd: '/srv' }).byteRanges?.shared, false);
    assert.equal(
      openSource('data/sales.csv', { cwd: '/srv' }).byteRanges?.reference,
      'csv:/srv/data/sales.csv',
    );
    assert.equal(openSource('synthetic:rows=10').byteRanges, undefined);
  });
});
