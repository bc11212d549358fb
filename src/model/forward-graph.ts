/**
 * The forward pass as ONNX nodes, and the graph that runs it alone (prediction during training).
 *
 * `addForwardLayers` is shared by the train-step, forward and export graphs, so all three compute
 * the same logits with the same node sequence and their results agree.
 *
 * @module
 */
import { OnnxGraph } from './onnx-graph.js';
import { parameterShapes } from './parameters.js';
import type { ModelSpec } from './spec.js';

/** Value names of the forward pass, kept for the backward pass. */
export interface ForwardValues {
  /** Layer l's pre-activation `Z_l = A_{l-1} W_l + b_l`; the last one is the logits. */
  readonly z: readonly string[];
  /** Layer l's activation `act(Z_l)` for hidden layers; `a[l]` is the input to layer l + 1. */
  readonly a: readonly string[];
  /** The last layer's (linear) output: logits for classification, prediction for regression. */
  readonly logits: string;
}

/**
 * Adds the dense layers: Gemm per layer, `spec.activation` after every layer but the last.
 * @param x Name of the `[N, spec.inputs]` feature matrix.
 * @param params Names of the parameters, in `parameterShapes` order (graph inputs or initializers).
 * @param logitsName Name to give the last layer's output; generated when omitted.
 */
export function addForwardLayers(
  g: OnnxGraph,
  spec: ModelSpec,
  x: string,
  params: readonly string[],
  logitsName?: string,
): ForwardValues {
  const layers = params.length / 2;
  const z: string[] = [];
  const a: string[] = [];
  let input = x;
  for (let l = 0; l < layers; l++) {
    const last = l === layers - 1;
    const zl = g.op(
      'Gemm',
      [input, params[2 * l]!, params[2 * l + 1]!],
      {},
      last ? logitsName : undefined,
    );
    z.push(zl);
    if (!last) {
      input = g.op(spec.activation === 'relu' ? 'Relu' : 'Tanh', [zl]);
      a.push(input);
    }
  }
  return { z, a, logits: z[z.length - 1]! };
}

/**
 * Builds the forward graph used for prediction during training and evaluation.
 *
 * Inputs: `x` FLOAT [N, inputs], then one input per parameter (so a single session serves any
 * weights). Output: `output` FLOAT [N, outputs], the softmax probabilities for classification or
 * the standardised prediction for regression.
 * @returns the serialized ONNX model.
 */
export function buildForwardGraph(spec: ModelSpec): Uint8Array {
  const g = new OnnxGraph(`mlscale_forward_${spec.family}_${spec.task}`);
  const shapes = parameterShapes(spec);
  const x = g.input('x', 'float', ['N', spec.inputs]);
  const params = shapes.map((p) => g.input(p.name, 'float', p.shape));
  if (spec.task === 'classification') {
    const { logits } = addForwardLayers(g, spec, x, params);
    g.op('Softmax', [logits], { axis: { int: 1 } }, 'output');
  } else {
    addForwardLayers(g, spec, x, params, 'output');
  }
  g.output('output', 'float', ['N', spec.outputs]);
  return g.toBytes();
}
