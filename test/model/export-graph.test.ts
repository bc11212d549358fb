import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { ShapeError } from '../../src/errors.js';
import { buildExportGraph, describeExportIO } from '../../src/model/export-graph.js';
import { initParameters } from '../../src/model/parameters.js';
import { Prng } from '../../src/model/prng.js';
import { createSession } from '../../src/model/session.js';
import type { ModelSpec, PreprocessingSpec } from '../../src/model/spec.js';
import { assertClose, randomArray } from './helpers.js';
import { refLogits, refPreprocess, refSoftmax } from './reference.js';

const { onnx } = onnxProto;

const mixed: PreprocessingSpec = {
  numeric: {
    names: ['age', 'income'],
    mean: new Float32Array([40, 3.5]),
    std: new Float32Array([12, 1.25]),
  },
  categorical: {
    names: ['color', 'size'],
    vocab: [
      ['red', 'grün', 'blue'],
      ['S', 'M'],
    ],
  },
  classes: ['no', 'yes', 'maybe'],
};
const mixedSpec: ModelSpec = {
  family: 'mlp',
  task: 'classification',
  inputs: 7,
  outputs: 3,
  hidden: [6],
  activation: 'tanh',
};

// Raw rows: NaNs to impute, an unseen category ('purple'), a missing one (''), and Unicode.
const numeric = new Float32Array([25, 2.0, NaN, 5.5, 61, NaN, NaN, NaN, 40, 3.5]);
const categorical = ['red', 'S', 'blue', 'M', 'purple', 'S', '', '', 'grün', 'M'];
const rows = 5;

/** Random biases so that the check does not pass by accident through zeros. */
function trainedParams(spec: ModelSpec, seed: number): Float32Array[] {
  const rng = new Prng(seed);
  return initParameters(spec, seed).map((p, i) =>
    i % 2 === 1 ? randomArray(rng, p.length, 0.5) : p,
  );
}

async function run(
  bytes: Uint8Array,
  feeds: Record<string, ort.Tensor>,
): Promise<{ names: readonly string[]; out: ort.InferenceSession.OnnxValueMapType }> {
  const session = await createSession(bytes);
  try {
    return { names: session.inputNames, out: await session.run(feeds) };
  } finally {
    await session.release();
  }
}

describe('buildExportGraph', () => {
  test('should impute, standardise, one-hot and classify raw rows like the reference', async () => {
    const params = trainedParams(mixedSpec, 4);
    const { names, out } = await run(buildExportGraph(mixedSpec, params, mixed), {
      x: new ort.Tensor('float32', numeric, [rows, 2]),
      x_cat: new ort.Tensor('string', categorical, [rows, 2]),
    });
    assert.deepEqual(names, ['x', 'x_cat']);
    const features = refPreprocess(mixed, numeric, categorical, rows);
    const probs = refSoftmax(refLogits(mixedSpec, params, features, rows));
    assert.deepEqual(out['probabilities']!.dims, [rows, 3]);
    assertClose(out['probabilities']!.data as Float32Array, probs.data, 1e-5, 0, 'probabilities');
    const labels = Array.from(out['label']!.data as BigInt64Array, Number);
    const expected = Array.from({ length: rows }, (_, r) => {
      const row = Array.from(probs.data.subarray(3 * r, 3 * r + 3));
      return row.indexOf(Math.max(...row));
    });
    assert.equal(out['label']!.type, 'int64');
    assert.deepEqual(labels, expected);
  });

  test('should give all-zero one-hot blocks for unseen and missing categories', async () => {
    // A linear regression on one-hot features only: prediction = b + sum of the active weights.
    const pre: PreprocessingSpec = {
      numeric: { names: [], mean: new Float32Array(0), std: new Float32Array(0) },
      categorical: { names: ['color'], vocab: [['red', 'grün']] },
      target: { mean: 0, std: 1 },
    };
    const spec: ModelSpec = {
      family: 'linear',
      task: 'regression',
      inputs: 2,
      outputs: 1,
      hidden: [],
      activation: 'relu',
    };
    const params = [new Float32Array([10, 100]), new Float32Array([1])];
    const { names, out } = await run(buildExportGraph(spec, params, pre), {
      x_cat: new ort.Tensor('string', ['red', 'grün', 'blue', '', 'Red'], [5, 1]),
    });
    assert.deepEqual(names, ['x_cat']);
    assert.deepEqual(Array.from(out['prediction']!.data as Float32Array), [11, 101, 1, 1, 1]);
  });

  test('should de-standardise a numeric-only regression and take no x_cat input', async () => {
    const pre: PreprocessingSpec = {
      numeric: {
        names: ['a', 'b', 'c'],
        mean: new Float32Array([1, -2, 0.5]),
        std: new Float32Array([2, 0.5, 1]),
      },
      categorical: { names: [], vocab: [] },
      target: { mean: 100, std: 15 },
    };
    const spec: ModelSpec = {
      family: 'mlp',
      task: 'regression',
      inputs: 3,
      outputs: 1,
      hidden: [4],
      activation: 'relu',
    };
    const params = trainedParams(spec, 9);
    const raw = new Float32Array([0, 0, 0, NaN, 1, 2, 3, NaN, -1, 4, 4, NaN]);
    const { names, out } = await run(buildExportGraph(spec, params, pre), {
      x: new ort.Tensor('float32', raw, [4, 3]),
    });
    assert.deepEqual(names, ['x']);
    const logits = refLogits(spec, params, refPreprocess(pre, raw, [], 4), 4);
    const expected = Array.from(logits.data, (v) => v * 15 + 100);
    assert.deepEqual(out['prediction']!.dims, [4, 1]);
    assertClose(out['prediction']!.data as Float32Array, expected, 1e-5, 1e-6, 'prediction');
  });

  test('should serialize the same model to identical bytes', () => {
    const params = trainedParams(mixedSpec, 4);
    const copy = params.map((p) => p.slice());
    assert.deepEqual(
      buildExportGraph(mixedSpec, params, mixed),
      buildExportGraph(mixedSpec, copy, { ...mixed }),
    );
  });

  test('should record task, classes and feature names in metadata_props', () => {
    const model = onnx.ModelProto.decode(
      buildExportGraph(mixedSpec, trainedParams(mixedSpec, 1), mixed),
    );
    assert.deepEqual(
      model.metadataProps.map((e) => [e.key, e.value]),
      [
        ['task', 'classification'],
        ['classes', '["no","yes","maybe"]'],
        ['numeric_features', '["age","income"]'],
        ['categorical_features', '["color","size"]'],
      ],
    );
  });

  test('should reject preprocessing whose width does not match the model', () => {
    const spec = { ...mixedSpec, inputs: 8 };
    assert.throws(() => buildExportGraph(spec, initParameters(spec, 1), mixed), ShapeError);
  });
});

describe('describeExportIO', () => {
  test('should describe inputs and outputs with KServe v2 datatypes and -1 for the batch', () => {
    assert.deepEqual(describeExportIO(mixedSpec, mixed), {
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [-1, 2] },
        { name: 'x_cat', datatype: 'BYTES', shape: [-1, 2] },
      ],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
        { name: 'label', datatype: 'INT64', shape: [-1] },
      ],
    });
  });

  test('should list only the numeric input and the prediction for a numeric regression', () => {
    const pre: PreprocessingSpec = {
      numeric: { names: ['a'], mean: new Float32Array([0]), std: new Float32Array([1]) },
      categorical: { names: [], vocab: [] },
      target: { mean: 0, std: 1 },
    };
    const spec: ModelSpec = {
      family: 'linear',
      task: 'regression',
      inputs: 1,
      outputs: 1,
      hidden: [],
      activation: 'relu',
    };
    assert.deepEqual(describeExportIO(spec, pre), {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 1] }],
      outputs: [{ name: 'prediction', datatype: 'FP32', shape: [-1, 1] }],
    });
  });
});
