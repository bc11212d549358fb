import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { convertFp16, fromHalfBits, toHalfBits } from '../../../src/model/optimize/convert-fp16.js';
import { DataType, decodeModel } from '../../../src/model/optimize/onnx-model.js';
import { OnnxGraph } from '../../../src/model/onnx-graph.js';
import { gemmMlp, randomRows, runY } from './mlp-models.js';

describe('toHalfBits', () => {
  test('should give the IEEE 754 half-precision patterns of exact values, limits and specials', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff], // largest finite half
      [65520, 0x7c00], // rounds up to Infinity
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -26, 0x0000], // underflows to zero
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
    ];
    for (const [value, bits] of cases)
      assert.equal(toHalfBits(value), bits, `toHalfBits(${value})`);
    assert.ok(Number.isNaN(fromHalfBits(toHalfBits(NaN))));
  });

  test('should round to nearest, ties to even, and round-trip every half value', () => {
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1).
    assert.equal(toHalfBits(1 + 2 ** -11), 0x3c00);
    assert.equal(toHalfBits(1 + 3 * 2 ** -11), 0x3c02);
    for (let h = 0; h < 0x7c00; h += 7) assert.equal(toHalfBits(fromHalfBits(h)), h);
  });
});

describe('convertFp16', () => {
  test('should store the weights as float16 behind Casts, halve the file and keep the outputs within float16 rounding', async () => {
    const fp32 = gemmMlp([128, 128, 10], 3);
    const r = convertFp16(fp32, 'm.onnx', () => false);
    assert.equal(r.converted, 4);
    const model = decodeModel(r.model, 'fp16');
    const g = model.graph!;
    assert.ok(g.initializer!.every((t) => t.dataType === DataType.FLOAT16));
    assert.deepEqual(
      g.node!.slice(0, 4).map((n) => n.opType),
      ['Cast', 'Cast', 'Cast', 'Cast'],
    );
    assert.ok(
      r.model.length < 0.55 * fp32.length && r.model.length > 0.45 * fp32.length,
      `${r.model.length} vs ${fp32.length}`,
    );
    const x = randomRows(16, 128);
    const want = await runY(fp32, x, 128);
    for (const level of ['disabled', 'all'] as const) {
      const got = await runY(r.model, x, 128, level);
      // Each weight moves by at most 2^-11 of itself (float16's 11-bit significand); the
      // outputs, sums of such products, move by well under 1% of their range.
      let maxAbs = 0;
      let maxDiff = 0;
      for (let i = 0; i < got.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(want[i]!));
        maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
      }
      assert.ok(
        maxDiff < 0.005 * maxAbs,
        `max difference ${maxDiff} against ${maxAbs} (level ${level})`,
      );
    }
    for (const t of r.tensors)
      assert.ok(t.maxAbsError! <= 2 ** -11 * 0.5, `${t.name}: ${t.maxAbsError}`);
  });

  test('should keep marked tensors (mlscale preprocessing) and values beyond float16 in FP32, saying why', () => {
    const g = new OnnxGraph('mixed');
    const x = g.input('x', 'float', ['N', 2]);
    const scaled = g.op('Mul', [x, g.floatConstant('pre_std', new Float32Array([1, 2]), [1, 2])]);
    const big = g.op('Add', [
      scaled,
      g.floatConstant('offset', new Float32Array([1e6, 0]), [1, 2]),
    ]);
    g.op('MatMul', [big, g.floatConstant('W', new Float32Array([1, 0, 0, 1]), [2, 2])], {}, 'y');
    g.output('y', 'float', ['N', 2]);
    const r = convertFp16(g.toBytes(), 'mixed.onnx', (name) => name.startsWith('pre_'));
    const by = Object.fromEntries(r.tensors.map((t) => [t.name, t]));
    assert.equal(by.W!.converted, true);
    assert.match(by.pre_std!.reason!, /preprocessing subgraph, which stays FP32/);
    assert.match(by.offset!.reason!, /values up to 1\.000e\+6, beyond float16's ±65504/);
    const types = Object.fromEntries(
      decodeModel(r.model, 'm').graph!.initializer!.map((t) => [t.name, t.dataType]),
    );
    assert.deepEqual(types, {
      pre_std: DataType.FLOAT,
      offset: DataType.FLOAT,
      W_fp16: DataType.FLOAT16,
    });
  });
});
