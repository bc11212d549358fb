import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BatchBuilder } from '../../src/data/batch-builder.js';
import type { RawBatch, Schema } from '../../src/data/types.js';

const schema: Schema = {
  columns: [
    { name: 'x', kind: 'numeric' },
    { name: 'c', kind: 'categorical' },
  ],
  numeric: ['x'],
  categorical: ['c'],
  label: 'y',
  task: 'classification',
};

/** Feeds rows ('bad' = skipped) and returns the batches. */
function build(
  rows: readonly (number | 'bad')[],
  batchRows: number,
  s: Schema = schema,
): RawBatch[] {
  const builder = new BatchBuilder(s, batchRows);
  const batches: RawBatch[] = [];
  rows.forEach((value, rowIndex) => {
    if (value === 'bad') {
      builder.skip();
      return;
    }
    builder.row.numeric[0] = value;
    builder.row.categorical[0] = value % 2 === 0 ? undefined : `c${value}`;
    builder.row.label = s.task === 'regression' ? value / 2 : `L${value % 3}`;
    const done = builder.commit(rowIndex);
    if (done !== undefined) batches.push(done);
  });
  const last = builder.finish();
  if (last !== undefined) batches.push(last);
  return batches;
}

describe('BatchBuilder', () => {
  test('should cut rows into full batches and a short last one', () => {
    const batches = build([0, 1, 2, 3, 4], 2);
    assert.deepEqual(
      batches.map((b) => [b.id, b.rowCount, [...b.rowIndex]]),
      [
        [0, 2, [0, 1]],
        [1, 2, [2, 3]],
        [2, 1, [4]],
      ],
    );
  });

  test('should encode categoricals and labels with per-batch dictionaries', () => {
    const [first, second] = build([1, 3, 1, 2, 5], 3);
    assert.deepEqual([...first!.catCodes], [0, 1, 0]);
    assert.deepEqual(first!.catDict, ['c1', 'c3']);
    assert.deepEqual(first!.labels, {
      kind: 'categorical',
      codes: Int32Array.from([0, 1, 0]),
      dict: ['L1', 'L0'],
    });
    assert.deepEqual([...second!.catCodes], [-1, 0]);
    assert.deepEqual(second!.catDict, ['c5']);
    assert.deepEqual(second!.labels, {
      kind: 'categorical',
      codes: Int32Array.from([0, 0]),
      dict: ['L2'],
    });
  });

  test('should store regression labels as numbers', () => {
    const [batch] = build([2, 4], 4, { ...schema, task: 'regression' });
    assert.deepEqual(batch!.labels, { kind: 'numeric', values: Float32Array.from([1, 2]) });
  });

  test('should count leading skipped rows in the first batch and later ones in the batch before them', () => {
    const batches = build(['bad', 1, 2, 'bad', 'bad', 3, 4, 'bad'], 2);
    assert.deepEqual(
      batches.map((b) => [[...b.rowIndex], b.skippedRows]),
      [
        [[1, 2], 3],
        [[5, 6], 1],
      ],
    );
  });

  test('should allocate fresh, exact-length arrays for every batch', () => {
    const batches = build([1, 2, 3, 4, 5], 2);
    const arrays = batches.flatMap((b) => [b.rowIndex, b.numeric, b.catCodes]);
    assert.equal(new Set(arrays.map((a) => a.buffer)).size, arrays.length);
    for (const a of arrays) assert.equal(a.byteLength, a.buffer.byteLength);
  });
});
