import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { NothingToQuantizeError } from '../../../src/errors.js';
import { OnnxGraph } from '../../../src/model/onnx-graph.js';
import { DataType, decodeModel } from '../../../src/model/optimize/onnx-model.js';
import {
  quantizeColumns,
  quantizeInt8,
  type Int8Options,
} from '../../../src/model/optimize/quantize-int8.js';
import { u8s8Saturates } from '../../../src/model/optimize/saturation-probe.js';
import {
  gemmLayer,
  gemmMlp,
  inputWeightsModel,
  layerWeights,
  matmulMlp,
  noMatmulModel,
  randomRows,
  runY,
} from './mlp-models.js';
import { Prng } from '../../../src/model/prng.js';

/**
 * The worst-case error of one dynamically quantised layer y = alpha·x·W (+ bias), from the
 * quantisation steps alone. DynamicQuantizeLinear maps the whole input tensor onto 0..255 with
 * step s_x = (max(0, max x) − min(0, min x)) / 255; rounding, and the zero point's own rounding,
 * move each x by at most s_x. Each weight moves by at most half its column's step
 * s_w = max |w| / qmax. So |x·w − x̂·ŵ| ≤ Σ_k s_x·(|w_k| + s_w/2) + |x_k|·s_w/2, per output.
 * A small relative slack covers float32 accumulation.
 */
function errorBound(
  x: Float32Array,
  rows: number,
  k: number,
  w: Float32Array,
  n: number,
  qmax: number,
  alpha = 1,
): Float32Array {
  let lo = 0;
  let hi = 0;
  for (const v of x) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const sx = (hi - lo) / 255;
  const { scale } = quantizeColumns(w, k, n, qmax);
  const bound = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      let e = 0;
      let mag = 0;
      for (let i = 0; i < k; i++) {
        const wi = Math.abs(w[i * n + j]!);
        const xi = Math.abs(x[r * k + i]!);
        e += sx * (wi + scale[j]! / 2) + (xi * scale[j]!) / 2;
        mag += xi * wi;
      }
      bound[r * n + j] = Math.abs(alpha) * (e + 1e-4 * mag) + 1e-5;
    }
  }
  return bound;
}

function reference(
  x: Float32Array,
  rows: number,
  k: number,
  w: Float32Array,
  n: number,
  bias: Float32Array,
  alpha = 1,
  beta = 1,
): Float32Array {
  const y = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += x[r * k + i]! * w[i * n + j]!;
      y[r * n + j] = alpha * s + beta * bias[j]!;
    }
  }
  return y;
}

function opTypes(bytes: Uint8Array): string[] {
  return (decodeModel(bytes, 't').graph!.node ?? []).map(
    (n) => (n.domain ? `${n.domain}.` : '') + n.opType,
  );
}

describe('quantizeInt8', () => {
  let base: Int8Options;
  let qmax: number;
  before(async () => {
    // The same choice as --reduce-range auto: 7-bit weights where this machine's onnxruntime
    // saturates u8s8 products, so the error bounds below hold on any CPU.
    const reduceRange = await u8s8Saturates();
    qmax = reduceRange ? 63 : 127;
    base = { ops: 'standard', reduceRange, minWeights: 0, keepFp32: () => false };
  });

  test('should quantise every Gemm of an MLP into standard ONNX ops that onnxruntime loads with and without its optimiser', async () => {
    const fp32 = gemmMlp([64, 128, 128, 10]);
    const r = quantizeInt8(fp32, 'mlp.onnx', base);
    assert.equal(r.quantized, 3);
    assert.ok(r.layers.every((l) => l.quantized));
    const ops = opTypes(r.model);
    assert.equal(ops.filter((o) => o === 'MatMulInteger').length, 3);
    assert.equal(ops.filter((o) => o === 'DynamicQuantizeLinear').length, 3);
    assert.ok(!ops.includes('Gemm'), 'no Gemm is left');
    assert.ok(
      ops.every((o) => !o.includes('.')),
      `only default-domain ops: ${ops.join(' ')}`,
    );
    const x = randomRows(16, 64);
    const want = await runY(fp32, x, 64);
    for (const level of ['disabled', 'all'] as const) {
      const got = await runY(r.model, x, 64, level);
      assert.equal(got.length, want.length);
      assert.ok(got.every(Number.isFinite));
    }
  });

  test('should keep one Gemm within the quantisation error bound of the FP32 layer', async () => {
    const k = 256;
    const n = 96;
    const bytes = gemmMlp([k, n], 5);
    const { w, b } = layerWeights(new Prng(5), k, n);
    const r = quantizeInt8(bytes, 'layer.onnx', base);
    const rows = 32;
    const x = randomRows(rows, k, 4);
    const want = reference(x, rows, k, w, n, b);
    const bound = errorBound(x, rows, k, w, n, qmax);
    for (const level of ['disabled', 'all'] as const) {
      const got = await runY(r.model, x, k, level);
      let worst = 0;
      for (let i = 0; i < got.length; i++)
        worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / bound[i]!);
      assert.ok(worst <= 1, `error reaches ${worst.toFixed(3)} of the bound (level ${level})`);
      // And it is a real quantisation, not a copy of the float layer.
      assert.ok(got.some((v, i) => v !== want[i]));
    }
  });

  test('should honour Gemm transB, alpha, beta and a [1, N] bias', async () => {
    const k = 128;
    const n = 64;
    const layer = gemmLayer(k, n);
    const r = quantizeInt8(layer.bytes, 'gemm.onnx', base);
    assert.equal(r.quantized, 1);
    assert.deepEqual(r.layers[0], {
      node: 'Gemm_0',
      op: 'Gemm',
      weight: 'Wt',
      k,
      n,
      quantized: true,
    });
    const rows = 8;
    const x = randomRows(rows, k, 6);
    const want = reference(x, rows, k, layer.w, n, layer.c, layer.alpha, layer.beta);
    const bound = errorBound(x, rows, k, layer.w, n, qmax, layer.alpha);
    const got = await runY(r.model, x, k);
    for (let i = 0; i < got.length; i++)
      assert.ok(
        Math.abs(got[i]! - want[i]!) <= bound[i]!,
        `output ${i}: ${got[i]} vs ${want[i]} (bound ${bound[i]})`,
      );
  });

  test('should quantise MatMul + Add layers (the PyTorch export pattern) and keep the Add', async () => {
    const fp32 = matmulMlp([128, 256, 10]);
    const r = quantizeInt8(fp32, 'torch.onnx', { ...base, minWeights: 10_000 });
    assert.deepEqual(
      r.layers.map((l) => [l.weight, l.quantized]),
      [
        ['weight_0', true],
        ['weight_1', false],
      ],
    );
    assert.match(r.layers[1]!.reason!, /256 × 10 = 2560 weights, under the 10000/);
    const ops = opTypes(r.model);
    assert.equal(ops.filter((o) => o === 'MatMulInteger').length, 1);
    assert.equal(ops.filter((o) => o === 'MatMul').length, 1);
    assert.equal(ops.filter((o) => o === 'Add').length, 2);
    const x = randomRows(64, 128, 8);
    const want = await runY(fp32, x, 128);
    const got = await runY(r.model, x, 128);
    let maxAbs = 0;
    let maxDiff = 0;
    for (let i = 0; i < got.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(want[i]!));
      maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
    }
    // One quantised layer of 128 inputs: its error bound (above) is a few percent of the output
    // range at most; the second, FP32 layer sums 256 such errors with weights of about ±0.15.
    assert.ok(
      maxDiff <= 0.05 * maxAbs,
      `max difference ${maxDiff} against outputs up to ${maxAbs}`,
    );
  });

  test('should drop the FP32 weights it replaced, so the file shrinks to about a quarter', () => {
    const fp32 = gemmMlp([256, 512, 512, 10]);
    const r = quantizeInt8(fp32, 'big.onnx', { ...base, minWeights: 65_536 });
    const model = decodeModel(r.model, 'q');
    const names = (model.graph!.initializer ?? []).map((t) => t.name);
    assert.ok(!names.includes('W0') && !names.includes('W1'));
    assert.ok(names.includes('W2'), 'the 512 × 10 layer stays FP32 and keeps its weights');
    assert.equal(
      model.graph!.initializer!.find((t) => t.name === 'W0_int8')!.dataType,
      DataType.INT8,
    );
    assert.ok(r.model.length < 0.3 * fp32.length, `${r.model.length} bytes against ${fp32.length}`);
  });

  test('should write com.microsoft.DynamicQuantizeMatMul with ops "ort", computing what the fused standard ops compute', async () => {
    const fp32 = gemmMlp([128, 128, 10]);
    const standard = quantizeInt8(fp32, 'm.onnx', base);
    const contrib = quantizeInt8(fp32, 'm.onnx', { ...base, ops: 'ort' });
    const model = decodeModel(contrib.model, 'ort');
    assert.deepEqual(opTypes(contrib.model), [
      'com.microsoft.DynamicQuantizeMatMul',
      'Relu',
      'com.microsoft.DynamicQuantizeMatMul',
    ]);
    assert.ok(model.opsetImport!.some((o) => o.domain === 'com.microsoft'));
    const x = randomRows(8, 128, 3);
    const a = await runY(standard.model, x, 128);
    const b = await runY(contrib.model, x, 128);
    for (let i = 0; i < a.length; i++)
      assert.ok(
        Math.abs(a[i]! - b[i]!) <= 1e-5 * (1 + Math.abs(a[i]!)),
        `output ${i}: ${a[i]} vs ${b[i]}`,
      );
  });

  test('should quantise a weight that two layers share once', () => {
    const rng = new Prng(4);
    const g = new OnnxGraph('shared');
    const x = g.input('x', 'float', ['N', 16]);
    const w = g.floatConstant('W', layerWeights(rng, 16, 16).w, [16, 16]);
    g.op('MatMul', [g.op('MatMul', [x, w]), w], {}, 'y');
    g.output('y', 'float', ['N', 16]);
    const r = quantizeInt8(g.toBytes(), 'shared.onnx', base);
    assert.equal(r.quantized, 2);
    const inits = decodeModel(r.model, 's').graph!.initializer!.map((t) => t.name);
    assert.deepEqual(
      inits.filter((n) => n!.endsWith('_int8')),
      ['W_int8'],
    );
  });

  test('should keep the layers the caller marks (mlscale preprocessing) in FP32 and say why', () => {
    const r = quantizeInt8(gemmMlp([32, 32, 4]), 'm.onnx', {
      ...base,
      keepFp32: (name) => name === 'W0',
    });
    assert.equal(r.layers[0]!.quantized, false);
    assert.match(r.layers[0]!.reason!, /preprocessing subgraph, which stays FP32/);
    assert.equal(r.layers[1]!.quantized, true);
  });

  test('should refuse a model with no MatMul or Gemm, naming what it holds', () => {
    assert.throws(
      () => quantizeInt8(noMatmulModel(), 'relu.onnx', base),
      (err: unknown) => {
        assert.ok(err instanceof NothingToQuantizeError);
        assert.equal(err.code, 'E_NOTHING_TO_QUANTIZE');
        assert.match(
          err.message,
          /relu\.onnx has nothing to quantise: the graph has no MatMul or Gemm node \(it holds 2 nodes: Relu, Mul\)/,
        );
        return true;
      },
    );
  });

  test('should refuse a model whose MatMul weights are an input, not a constant', () => {
    assert.throws(
      () => quantizeInt8(inputWeightsModel(), 'w.onnx', base),
      (err: unknown) => {
        assert.ok(err instanceof NothingToQuantizeError);
        assert.match(err.message, /MatMul_0: the weights \(w\) are not a constant initializer/);
        return true;
      },
    );
  });

  test('should run where onnxruntime finds the DynamicQuantizeMatMul fusion: the saved optimised graph holds only the contrib op', async () => {
    const q = quantizeInt8(gemmMlp([128, 128, 10]), 'm.onnx', base);
    const { mkdtemp, readFile, rm } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'mlscale-fusion-'));
    try {
      const out = join(dir, 'o.onnx');
      const s = await ort.InferenceSession.create(q.model, {
        graphOptimizationLevel: 'extended',
        optimizedModelFilePath: out,
        logSeverityLevel: 3,
      });
      await s.release();
      assert.deepEqual(opTypes(await readFile(out)), [
        'com.microsoft.DynamicQuantizeMatMul',
        'Relu',
        'com.microsoft.DynamicQuantizeMatMul',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
