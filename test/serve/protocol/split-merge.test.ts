import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ShapeError } from '../../../src/errors.js';
import { mergeRows, signatureKey, splitRows } from '../../../src/serve/protocol/index.js';
import type { InferenceWork, Tensor } from '../../../src/serve/types.js';
import { assertThrowsWith } from './protocol-helpers.js';

function request(rows: number, start: number): Tensor[] {
  return [
    {
      name: 'x',
      datatype: 'FP32',
      shape: [rows, 2],
      data: Float32Array.from({ length: rows * 2 }, (_, i) => start + i),
    },
    {
      name: 'id',
      datatype: 'INT64',
      shape: [rows],
      data: BigInt64Array.from({ length: rows }, (_, i) => BigInt(start + i)),
    },
    {
      name: 'text',
      datatype: 'BYTES',
      shape: [rows, 1],
      data: Array.from({ length: rows }, (_, i) => `r${start + i}`),
    },
  ];
}

function work(inputs: Tensor[], outputs: string[] = ['y']): InferenceWork {
  return { inputs, outputs, rows: inputs[0]!.shape[0]! };
}

describe('mergeRows and splitRows', () => {
  test('should concatenate requests along the first dimension', () => {
    const merged = mergeRows([request(1, 0), request(2, 100)]);
    assert.deepEqual(merged[0], {
      name: 'x',
      datatype: 'FP32',
      shape: [3, 2],
      data: new Float32Array([0, 1, 100, 101, 102, 103]),
    });
    assert.deepEqual(merged[1], {
      name: 'id',
      datatype: 'INT64',
      shape: [3],
      data: new BigInt64Array([0n, 100n, 101n]),
    });
    assert.deepEqual(merged[2], {
      name: 'text',
      datatype: 'BYTES',
      shape: [3, 1],
      data: ['r0', 'r100', 'r101'],
    });
  });

  test('should split a merged batch back into each request', () => {
    const requests = [request(1, 0), request(3, 10), request(2, 50)];
    const split = splitRows(mergeRows(requests), [1, 3, 2]);
    assert.deepEqual(split, requests);
  });

  test('should give views by default and copies on request', () => {
    const batch = mergeRows([request(2, 0), request(2, 10)]);
    const views = splitRows(batch, [2, 2]);
    assert.equal(
      (views[1]![0]!.data as Float32Array).buffer,
      (batch[0]!.data as Float32Array).buffer,
    );
    const copies = splitRows(batch, [2, 2], { copy: true });
    assert.notEqual(
      (copies[1]![0]!.data as Float32Array).buffer,
      (batch[0]!.data as Float32Array).buffer,
    );
    assert.equal((copies[1]![0]!.data as Float32Array).byteOffset, 0);
    assert.deepEqual(copies, views);
  });

  test('should assert that merged requests agree on names, datatypes and trailing shapes', () => {
    const other = request(1, 0);
    other[0] = { ...other[0]!, shape: [1, 3], data: new Float32Array(3) };
    assertThrowsWith(
      () => mergeRows([request(1, 0), other]),
      ShapeError,
      'E_SHAPE',
      'request 1 input 0 is "x" FP32 [1, 3]; request 0 has "x" FP32 [1, 2]',
    );
    const renamed = request(1, 0).map((t) => ({ ...t, name: t.name + '2' }));
    assertThrowsWith(
      () => mergeRows([request(1, 0), renamed]),
      ShapeError,
      'E_SHAPE',
      'request 1 input 0',
    );
    assertThrowsWith(() => mergeRows([]), ShapeError, 'E_SHAPE', 'no requests');
  });

  test('should refuse to split outputs whose rows do not add up', () => {
    assertThrowsWith(
      () => splitRows(request(3, 0), [1, 1]),
      ShapeError,
      'E_SHAPE',
      'output "x" has shape [3, 2]; expected 2 rows',
    );
  });
});

describe('signatureKey', () => {
  test('should be equal for requests that differ only in rows', () => {
    assert.equal(signatureKey(work(request(1, 0))), signatureKey(work(request(5, 7))));
  });

  test('should differ for other datatypes, trailing shapes or outputs', () => {
    const base = signatureKey(work(request(1, 0)));
    const wider = request(1, 0);
    wider[0] = { ...wider[0]!, shape: [1, 3], data: new Float32Array(3) };
    const retyped = request(1, 0);
    retyped[0] = { ...retyped[0]!, datatype: 'FP64', data: new Float64Array(2) };
    assert.notEqual(signatureKey(work(wider)), base);
    assert.notEqual(signatureKey(work(retyped)), base);
    assert.notEqual(signatureKey(work(request(1, 0), ['y', 'z'])), base);
    assert.notEqual(
      signatureKey(work(request(1, 0), ['z', 'y'])),
      signatureKey(work(request(1, 0), ['y', 'z'])),
    );
  });
});
