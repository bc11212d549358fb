/**
 * The deployable model: preprocessing, the trained layers and a readable output, in one ONNX graph.
 *
 * The exported graph takes raw rows (numeric columns with NaN for missing values, categorical
 * columns as strings), so a server or any ONNX runtime can use it without mlscale's preprocessing.
 *
 * @module
 */
import { ShapeError } from '../errors.js';
import { addForwardLayers } from './forward-graph.js';
import { OnnxGraph } from './onnx-graph.js';
import { parameterShapes } from './parameters.js';
import type { ModelSpec, PreprocessingSpec } from './spec.js';
import type { Datatype, TensorDescription } from './tensor-description.js';

/** ONNX TensorProto.DataType.FLOAT, for Cast's `to` attribute. */
const FLOAT = 1;

/** KServe v2 datatype names of the tensors the export graph uses. */
export type KServeDatatype = Extract<Datatype, 'FP32' | 'INT64' | 'BYTES'>;

/** Inputs and outputs of the exported model, for `metadata.json` and the server's metadata route. */
export interface ExportIO {
  readonly inputs: readonly TensorDescription<KServeDatatype>[];
  readonly outputs: readonly TensorDescription<KServeDatatype>[];
}

function checkPreprocessing(spec: ModelSpec, pre: PreprocessingSpec): void {
  const { numeric, categorical } = pre;
  if (numeric.mean.length !== numeric.names.length || numeric.std.length !== numeric.names.length) {
    throw new ShapeError(
      `preprocessing has ${numeric.names.length} numeric columns but ${numeric.mean.length} means and ${numeric.std.length} stds`,
    );
  }
  if (categorical.vocab.length !== categorical.names.length) {
    throw new ShapeError(
      `preprocessing has ${categorical.names.length} categorical columns but ${categorical.vocab.length} vocabularies`,
    );
  }
  if (numeric.names.length + categorical.names.length === 0) {
    throw new ShapeError('preprocessing has no feature columns');
  }
  const width = categorical.vocab.reduce((sum, v) => sum + v.length, numeric.names.length);
  if (width !== spec.inputs) {
    throw new ShapeError(
      `preprocessing gives ${width} features, but the model takes ${spec.inputs}`,
    );
  }
  if (
    spec.task === 'classification' &&
    pre.classes !== undefined &&
    pre.classes.length !== spec.outputs
  ) {
    throw new ShapeError(
      `preprocessing has ${pre.classes.length} classes, but the model has ${spec.outputs} outputs`,
    );
  }
}

/**
 * Describes the exported model's inputs and outputs (KServe v2 names and datatypes).
 * @example describeExportIO(spec, pre).inputs // [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }]
 */
export function describeExportIO(spec: ModelSpec, pre: PreprocessingSpec): ExportIO {
  const inputs: TensorDescription<KServeDatatype>[] = [];
  if (pre.numeric.names.length > 0)
    inputs.push({ name: 'x', datatype: 'FP32', shape: [-1, pre.numeric.names.length] });
  if (pre.categorical.names.length > 0) {
    inputs.push({ name: 'x_cat', datatype: 'BYTES', shape: [-1, pre.categorical.names.length] });
  }
  const outputs: TensorDescription<KServeDatatype>[] =
    spec.task === 'classification'
      ? [
          { name: 'probabilities', datatype: 'FP32', shape: [-1, spec.outputs] },
          { name: 'label', datatype: 'INT64', shape: [-1] },
        ]
      : [{ name: 'prediction', datatype: 'FP32', shape: [-1, 1] }];
  return { inputs, outputs };
}

/**
 * Builds the deployable ONNX model.
 *
 * Inputs: `x` FLOAT [N, numeric columns] (only with numeric columns; NaN = missing) and `x_cat`
 * STRING [N, categorical columns] (only with categorical columns; unseen or empty = all zeros).
 * Outputs: classification → `probabilities` FLOAT [N, classes] and `label` INT64 [N] (class index);
 * regression → `prediction` FLOAT [N, 1] in the target's original units.
 * Metadata props: `task`, `classes`, `numeric_features`, `categorical_features` (JSON arrays).
 * The same arguments always give byte-identical output.
 * @param params Trained parameters in `parameterShapes(spec)` order; baked in as initializers.
 * @param pre Preprocessing fitted on the training data.
 * @returns the serialized ONNX model.
 */
export function buildExportGraph(
  spec: ModelSpec,
  params: readonly Float32Array[],
  pre: PreprocessingSpec,
): Uint8Array {
  checkPreprocessing(spec, pre);
  const shapes = parameterShapes(spec);
  if (params.length !== shapes.length) {
    throw new ShapeError(`expected ${shapes.length} parameter tensors, got ${params.length}`);
  }
  const g = new OnnxGraph(`mlscale_${spec.family}_${spec.task}`);
  const blocks: string[] = [];
  const numCols = pre.numeric.names.length;
  if (numCols > 0) {
    const x = g.input('x', 'float', ['N', numCols]);
    const mean = g.floatConstant('pre_mean', pre.numeric.mean, [1, numCols]);
    const std = g.floatConstant('pre_std', pre.numeric.std, [1, numCols]);
    const imputed = g.op('Where', [g.op('IsNaN', [x]), mean, x]);
    blocks.push(g.op('Div', [g.op('Sub', [imputed, mean]), std]));
  }
  const catCols = pre.categorical.names.length;
  if (catCols > 0) {
    const xCat = g.input('x_cat', 'string', ['N', catCols]);
    for (let j = 0; j < catCols; j++) {
      const vocab = pre.categorical.vocab[j]!;
      // An empty vocabulary contributes no features; skipping it avoids zero-sized tensors.
      if (vocab.length === 0) continue;
      const index = g.int64Constant(`pre_cat_index_${j}`, [j], [1]);
      const column = g.op('Gather', [xCat, index], { axis: { int: 1 } });
      const words = g.stringConstant(`pre_vocab_${j}`, vocab, [1, vocab.length]);
      // [N, 1] == [1, V] broadcasts to [N, V]: one-hot, all zeros for an unseen value.
      blocks.push(g.op('Cast', [g.op('Equal', [column, words])], { to: { int: FLOAT } }));
    }
  }
  const features = blocks.length === 1 ? blocks[0]! : g.op('Concat', blocks, { axis: { int: 1 } });

  const names = shapes.map((p, i) => {
    const data = params[i]!;
    const size = p.shape.reduce((a, b) => a * b, 1);
    if (data.length !== size)
      throw new ShapeError(`parameter ${p.name} has ${data.length} values, expected ${size}`);
    return g.floatConstant(p.name, data, p.shape);
  });
  const { logits } = addForwardLayers(g, spec, features, names);

  if (spec.task === 'classification') {
    const probs = g.op('Softmax', [logits], { axis: { int: 1 } }, 'probabilities');
    g.op('ArgMax', [probs], { axis: { int: 1 }, keepdims: { int: 0 } }, 'label');
    g.output('probabilities', 'float', ['N', spec.outputs]);
    g.output('label', 'int64', ['N']);
  } else {
    const target = pre.target ?? { mean: 0, std: 1 };
    const std = g.floatConstant('target_std', new Float32Array([target.std]), []);
    const mean = g.floatConstant('target_mean', new Float32Array([target.mean]), []);
    g.op('Add', [g.op('Mul', [logits, std]), mean], {}, 'prediction');
    g.output('prediction', 'float', ['N', 1]);
  }

  g.metadata('task', spec.task);
  g.metadata('classes', JSON.stringify(pre.classes ?? []));
  g.metadata('numeric_features', JSON.stringify(pre.numeric.names));
  g.metadata('categorical_features', JSON.stringify(pre.categorical.names));
  return g.toBytes();
}
