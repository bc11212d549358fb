import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { IR_VERSION, OnnxGraph, OPSET_VERSION } from '../../src/model/onnx-graph.js';
import { createSession } from '../../src/model/session.js';

const { onnx } = onnxProto;

/** y = x * scale + Constant; eq = (s == vocab) on strings; n = rows of x; am = ArgMax of x's rows. */
function sampleGraph(attrOrder: 'ab' | 'ba' = 'ab'): OnnxGraph {
  const g = new OnnxGraph('sample');
  const x = g.input('x', 'float', ['N', 2]);
  const s = g.input('s', 'string', ['N', 1]);
  const scale = g.floatConstant('scale', new Float32Array([2, 3]), [1, 2]);
  const offset = g.op('Constant', [], {
    value: { tensor: { type: 'float', dims: [2], data: new Float32Array([0.5, -0.5]) } },
  });
  g.op('Add', [g.op('Mul', [x, scale]), offset], {}, 'y');
  const vocab = g.stringConstant('vocab', ['a', 'ü'], [1, 2]);
  g.op('Cast', [g.op('Equal', [s, vocab])], { to: { int: 1 } }, 'eq');
  const index = g.int64Constant('index', [0], []);
  g.op('Gather', [g.op('Shape', [x]), index], { axis: { int: 0 } }, 'n');
  const attrs =
    attrOrder === 'ab'
      ? { axis: { int: 1 }, keepdims: { int: 0 } }
      : { keepdims: { int: 0 }, axis: { int: 1 } };
  g.op('ArgMax', [x], attrs, 'am');
  g.output('y', 'float', ['N', 2]);
  g.output('eq', 'float', ['N', 2]);
  g.output('n', 'int64', []);
  g.output('am', 'int64', ['N']);
  return g;
}

describe('OnnxGraph', () => {
  test('should write IR 8 and default-domain opset 19', () => {
    const model = onnx.ModelProto.decode(sampleGraph().toBytes());
    assert.equal(Number(model.irVersion), IR_VERSION);
    assert.equal(IR_VERSION, 8);
    assert.deepEqual(
      model.opsetImport.map((o) => [o.domain, Number(o.version)]),
      [['', OPSET_VERSION]],
    );
    assert.equal(OPSET_VERSION, 19);
  });

  test('should build a model that onnxruntime loads and runs, string Equal included', async () => {
    const session = await createSession(sampleGraph().toBytes());
    try {
      assert.deepEqual(session.inputNames, ['x', 's']);
      assert.deepEqual(session.outputNames, ['y', 'eq', 'n', 'am']);
      const out = await session.run({
        x: new ort.Tensor('float32', new Float32Array([1, 2, 3, 4, 5, 6]), [3, 2]),
        s: new ort.Tensor('string', ['ü', 'b', 'a'], [3, 1]),
      });
      assert.deepEqual(
        Array.from(out['y']!.data as Float32Array),
        [2.5, 5.5, 6.5, 11.5, 10.5, 17.5],
      );
      assert.deepEqual(Array.from(out['eq']!.data as Float32Array), [0, 1, 0, 0, 1, 0]);
      assert.deepEqual(out['n']!.dims, []);
      assert.equal(out['n']!.data[0], 3n);
      assert.deepEqual(Array.from(out['am']!.data as BigInt64Array), [1n, 1n, 1n]);
    } finally {
      await session.release();
    }
  });

  test('should encode each attribute kind with its ONNX type', () => {
    const g = new OnnxGraph('attrs');
    g.input('x', 'float', [2]);
    g.op('Identity', ['x'], {
      i: { int: 3 },
      is: { ints: [1, 2] },
      f: { float: 0.5 },
      s: { string: 'hé' },
      t: { tensor: { type: 'float', dims: [1], data: new Float32Array([7]) } },
    });
    const node = onnx.ModelProto.decode(g.toBytes()).graph!.node![0]!;
    const T = onnx.AttributeProto.AttributeType;
    // Attributes are written sorted by name, whatever the object's key order.
    assert.deepEqual(
      node.attribute!.map((a) => [a.name, a.type]),
      [
        ['f', T.FLOAT],
        ['i', T.INT],
        ['is', T.INTS],
        ['s', T.STRING],
        ['t', T.TENSOR],
      ],
    );
    assert.equal(new TextDecoder().decode(node.attribute![3]!.s), 'hé');
  });

  test('should declare symbolic dims by name and scalars with an empty shape', () => {
    const graph = onnx.ModelProto.decode(sampleGraph().toBytes()).graph!;
    const xDims = graph.input![0]!.type!.tensorType!.shape!.dim!;
    assert.equal(xDims[0]!.dimParam, 'N');
    assert.equal(Number(xDims[1]!.dimValue), 2);
    const nShape = graph.output![2]!.type!.tensorType!.shape;
    assert.ok(nShape);
    assert.equal(nShape.dim!.length, 0);
  });

  test('should serialize the same calls to identical bytes, whatever the attribute key order', () => {
    assert.deepEqual(sampleGraph('ab').toBytes(), sampleGraph('ba').toBytes());
  });

  test('should reject duplicate names, unknown inputs and mis-sized initializers', () => {
    const g = new OnnxGraph('bad');
    g.input('x', 'float', [1]);
    assert.throws(() => g.input('x', 'float', [1]), RangeError);
    assert.throws(() => g.op('Relu', ['nope']), RangeError);
    assert.throws(() => g.floatConstant('c', new Float32Array(3), [2, 2]), RangeError);
    assert.throws(() => g.output('missing', 'float', [1]), RangeError);
  });
});
