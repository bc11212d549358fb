/**
 * The training-step graph: loss and hand-derived gradients of every parameter, as plain ONNX.
 *
 * onnxruntime-node has no training API, so the backward pass is written out as ordinary inference
 * nodes. For Z_l = A_{l-1} W_l + b_l (A_{-1} = x) and dZ = dLoss/dZ_last:
 *   dW_l = A_{l-1}^T dZ_l,  db_l = sum over rows of dZ_l,  dA_{l-1} = dZ_l W_l^T,
 *   dZ_{l-1} = dA_{l-1} * act'(Z_{l-1}).
 *
 * @module
 */
import { addForwardLayers } from './forward-graph.js';
import { OnnxGraph } from './onnx-graph.js';
import { parameterShapes } from './parameters.js';
import type { ModelSpec } from './spec.js';

/** ONNX TensorProto.DataType.FLOAT, for Cast's `to` attribute. */
const FLOAT = 1;

/**
 * Builds the train-step graph.
 *
 * Inputs: `x` FLOAT [N, inputs]; `y` FLOAT [N, outputs] (one-hot classes, or the standardised
 * target); then the parameters by name (`W0, b0, ...`).
 * Outputs: `loss` FLOAT scalar, then `grad_<param>` for each parameter, in parameter order.
 *
 * Classification loss is the mean softmax cross-entropy (dlogits = (softmax - y) / N); regression
 * loss is sum((pred - y)^2) / (2N) (dlogits = (pred - y) / N).
 * @returns the serialized ONNX model.
 */
export function buildTrainStepGraph(spec: ModelSpec): Uint8Array {
  const g = new OnnxGraph(`mlscale_train_${spec.family}_${spec.task}`);
  const shapes = parameterShapes(spec);
  const x = g.input('x', 'float', ['N', spec.inputs]);
  const y = g.input('y', 'float', ['N', spec.outputs]);
  const params = shapes.map((p) => g.input(p.name, 'float', p.shape));
  const fwd = addForwardLayers(g, spec, x, params);

  // N comes from x itself, so the last, shorter minibatch needs no extra input.
  const zero = g.int64Constant('const_index_0', [0], []);
  const rowsInt = g.op('Gather', [g.op('Shape', [x]), zero], { axis: { int: 0 } });
  const rows = g.op('Cast', [rowsInt], { to: { int: FLOAT } });

  let dz: string;
  if (spec.task === 'classification') {
    // LogSoftmax rather than Log(Softmax): no log(0) = -inf when a probability underflows.
    const logp = g.op('LogSoftmax', [fwd.logits], { axis: { int: 1 } });
    const probs = g.op('Softmax', [fwd.logits], { axis: { int: 1 } });
    const total = g.op('ReduceSum', [g.op('Mul', [y, logp])], { keepdims: { int: 0 } });
    g.op('Div', [g.op('Neg', [total]), rows], {}, 'loss');
    dz = g.op('Div', [g.op('Sub', [probs, y]), rows]);
  } else {
    const diff = g.op('Sub', [fwd.logits, y]);
    const total = g.op('ReduceSum', [g.op('Mul', [diff, diff])], { keepdims: { int: 0 } });
    const two = g.floatConstant('const_two', new Float32Array([2]), []);
    g.op('Div', [total, g.op('Mul', [rows, two])], {}, 'loss');
    dz = g.op('Div', [diff, rows]);
  }

  // Since opset 13 ReduceSum takes its axes as an input, not an attribute.
  const axis0 = g.int64Constant('const_axes_0', [0], [1]);
  // Only the constants the backward activation needs (none for a linear model): onnxruntime
  // logs a warning for every unused initializer.
  const layers = shapes.length / 2;
  const needsConstant = layers > 1;
  const zeroF =
    needsConstant && spec.activation === 'relu'
      ? g.floatConstant('const_zero', new Float32Array([0]), [])
      : '';
  const oneF =
    needsConstant && spec.activation === 'tanh'
      ? g.floatConstant('const_one', new Float32Array([1]), [])
      : '';
  for (let l = layers - 1; l >= 0; l--) {
    const input = l === 0 ? x : fwd.a[l - 1]!;
    g.op('Gemm', [input, dz], { transA: { int: 1 } }, `grad_${shapes[2 * l]!.name}`);
    g.op('ReduceSum', [dz, axis0], { keepdims: { int: 0 } }, `grad_${shapes[2 * l + 1]!.name}`);
    if (l === 0) break;
    const da = g.op('Gemm', [dz, params[2 * l]!], { transB: { int: 1 } });
    if (spec.activation === 'relu') {
      // relu'(z) = 1 for z > 0, else 0 (the subgradient at 0 is taken as 0).
      const positive = g.op('Greater', [fwd.z[l - 1]!, zeroF]);
      dz = g.op('Where', [positive, da, zeroF]);
    } else {
      // tanh'(z) = 1 - tanh(z)^2, reusing the forward activation.
      const act = fwd.a[l - 1]!;
      dz = g.op('Mul', [da, g.op('Sub', [oneF, g.op('Mul', [act, act])])]);
    }
  }

  g.output('loss', 'float', []);
  for (const p of shapes) g.output(`grad_${p.name}`, 'float', p.shape);
  return g.toBytes();
}
