import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  datatypeFromOnnx,
  datatypeInfo,
  elementByteSize,
  floatToHalfBits,
  halfBitsToFloat,
  isDatatype,
  ortTensorType,
} from '../../../src/serve/protocol/index.js';
import { datatypes } from '../../../src/model/tensor-description.js';

describe('datatypes', () => {
  test('should give the protocol element sizes and matching typed arrays', () => {
    const sizes = {
      BOOL: 1,
      UINT8: 1,
      UINT16: 2,
      UINT32: 4,
      UINT64: 8,
      INT8: 1,
      INT16: 2,
      INT32: 4,
      INT64: 8,
      FP16: 2,
      FP32: 4,
      FP64: 8,
      BYTES: 0,
    };
    for (const datatype of datatypes) {
      assert.equal(elementByteSize(datatype), sizes[datatype], datatype);
      const array = datatypeInfo[datatype].arrayType;
      if (datatype === 'BYTES') assert.equal(array, undefined);
      else assert.equal(array!.BYTES_PER_ELEMENT, sizes[datatype], datatype);
    }
  });

  test('should map datatypes to onnxruntime types and back', () => {
    for (const datatype of datatypes)
      assert.equal(datatypeFromOnnx(ortTensorType(datatype)), datatype);
    assert.equal(ortTensorType('FP32'), 'float32');
    assert.equal(ortTensorType('FP16'), 'float16');
    assert.equal(ortTensorType('BYTES'), 'string');
    assert.equal(ortTensorType('BOOL'), 'bool');
    assert.equal(datatypeFromOnnx('tensor(double)'), 'FP64');
    assert.equal(datatypeFromOnnx('tensor(int64)'), 'INT64');
    assert.equal(datatypeFromOnnx(1), 'FP32');
    assert.equal(datatypeFromOnnx(7), 'INT64');
    assert.equal(datatypeFromOnnx('bfloat16'), undefined);
    assert.equal(datatypeFromOnnx('int4'), undefined);
  });

  test('should recognise datatype names case-sensitively', () => {
    assert.equal(isDatatype('FP32'), true);
    assert.equal(isDatatype('fp32'), false);
    assert.equal(isDatatype('toString'), false);
    assert.equal(isDatatype(3), false);
  });

  test('should round numbers to the nearest half, ties to even', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [65504, 0x7bff],
      [65519, 0x7bff],
      [65520, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -14, 0x0400],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000], // halfway between 0 and the smallest subnormal: ties to even (0)
      [3 * 2 ** -25, 0x0002], // halfway between 1 and 2 subnormal steps: ties to even (2)
      [1 + 2 ** -11, 0x3c00], // halfway between 1 and the next half: ties to even
      [1 + 3 * 2 ** -11, 0x3c02],
      [2 ** -14 - 2 ** -25, 0x0400], // the largest subnormal rounds up into the normals
    ];
    for (const [value, bits] of cases) assert.equal(floatToHalfBits(value), bits, `${value}`);
    assert.equal(floatToHalfBits(NaN), 0x7e00);
  });

  test('should read back every half bit pattern exactly', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = halfBitsToFloat(bits);
      const isNaN = (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0;
      if (isNaN) assert.ok(Number.isNaN(value));
      else assert.equal(floatToHalfBits(value), bits, `bits 0x${bits.toString(16)}`);
    }
  });
});
