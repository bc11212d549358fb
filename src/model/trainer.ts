/**
 * Minibatch training and prediction on one batch of preprocessed rows, with cached ORT sessions.
 *
 * This is the compute that executors run, inline or in worker threads: it takes and returns
 * plain typed arrays, and updates parameters and optimizer state in place.
 *
 * @module
 */
import ort from 'onnxruntime-node';
import { ShapeError, TrainingDivergedError } from '../errors.js';
import { buildForwardGraph } from './forward-graph.js';
import { applyUpdate, type OptimizerConfig, type OptimizerState } from './optimizers.js';
import { parameterShapes, type ParameterShape } from './parameters.js';
import { Prng } from './prng.js';
import { getCachedSession } from './session.js';
import type { ModelSpec } from './spec.js';
import { buildTrainStepGraph } from './train-graph.js';

/** Arguments of `trainOnBatch`. */
export interface TrainOnBatchArgs {
  readonly spec: ModelSpec;
  /** Parameters in `parameterShapes(spec)` order; updated in place. */
  readonly params: Float32Array[];
  /** Optimizer state matching `optimizer.kind`; updated in place. */
  readonly optState: OptimizerState;
  readonly optimizer: OptimizerConfig;
  /** rows × spec.inputs preprocessed features, row-major (extra trailing values are ignored). */
  readonly x: Float32Array;
  /** rows × spec.outputs targets, row-major: one-hot classes or the standardised target. */
  readonly y: Float32Array;
  readonly rows: number;
  /** Rows per optimizer step; the last minibatch may be shorter. */
  readonly minibatch: number;
  /** Seeds the shuffle of the row order. */
  readonly seed: number;
}

/** What `trainOnBatch` returns. */
export interface TrainOnBatchResult {
  /** The same arrays as `args.params`, updated. */
  readonly params: Float32Array[];
  /** The same object as `args.optState`, updated. */
  readonly optState: OptimizerState;
  /** Sum over minibatches of the mean minibatch loss × its row count (divide by `rows` for the mean). */
  readonly lossSum: number;
  readonly rows: number;
  /** Optimizer steps taken. */
  readonly steps: number;
}

/** A cache key that does not depend on the spec object's property order. */
function specKey(kind: string, spec: ModelSpec): string {
  const { family, task, inputs, outputs, hidden, activation } = spec;
  return `${kind}:${JSON.stringify([family, task, inputs, outputs, hidden, activation])}`;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function checkParams(shapes: readonly ParameterShape[], params: readonly Float32Array[]): void {
  if (params.length !== shapes.length) {
    throw new ShapeError(`expected ${shapes.length} parameter tensors, got ${params.length}`);
  }
  shapes.forEach((p, i) => {
    if (params[i]!.length !== size(p.shape)) {
      throw new ShapeError(
        `parameter ${p.name} has ${params[i]!.length} values, expected ${size(p.shape)}`,
      );
    }
  });
}

function checkRows(name: string, data: Float32Array, rows: number, width: number): void {
  if (!Number.isInteger(rows) || rows < 0)
    throw new ShapeError(`rows must be a non-negative integer, got ${rows}`);
  if (data.length < rows * width) {
    throw new ShapeError(
      `${name} has ${data.length} values, ${rows} rows of ${width} need ${rows * width}`,
    );
  }
}

/**
 * Runs one pass over a batch: shuffles its rows with `seed`, then one optimizer step per minibatch.
 * The same arguments always give bitwise-identical parameters.
 * @returns the updated parameters and state, and the summed loss. Rejects with `ShapeError` on
 * mismatched sizes and `TrainingDivergedError` when the loss becomes non-finite.
 */
export async function trainOnBatch(args: TrainOnBatchArgs): Promise<TrainOnBatchResult> {
  const { spec, params, optState, optimizer, x, y, rows, minibatch, seed } = args;
  const shapes = parameterShapes(spec);
  checkParams(shapes, params);
  checkRows('x', x, rows, spec.inputs);
  checkRows('y', y, rows, spec.outputs);
  if (!Number.isInteger(minibatch) || minibatch < 1) {
    throw new ShapeError(`minibatch must be a positive integer, got ${minibatch}`);
  }
  const session = await getCachedSession(specKey('train', spec), () => buildTrainStepGraph(spec));

  const order = new Int32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;
  new Prng(seed).shuffle(order);

  const nIn = spec.inputs;
  const nOut = spec.outputs;
  const mb = Math.min(minibatch, Math.max(rows, 1));
  const xBuf = new Float32Array(mb * nIn);
  const yBuf = new Float32Array(mb * nOut);
  // Parameters are updated in place, so their tensors (which wrap the arrays) serve every step.
  const feeds: Record<string, ort.Tensor> = {};
  shapes.forEach((p, i) => {
    feeds[p.name] = new ort.Tensor('float32', params[i]!, p.shape);
  });
  const fullX = new ort.Tensor('float32', xBuf, [mb, nIn]);
  const fullY = new ort.Tensor('float32', yBuf, [mb, nOut]);
  // Preallocated outputs: onnxruntime writes the loss and gradients into these every step.
  const lossOut = new Float32Array(1);
  const grads = shapes.map((p) => new Float32Array(size(p.shape)));
  const fetches: Record<string, ort.Tensor> = { loss: new ort.Tensor('float32', lossOut, []) };
  shapes.forEach((p, i) => {
    fetches[`grad_${p.name}`] = new ort.Tensor('float32', grads[i]!, p.shape);
  });

  let lossSum = 0;
  let steps = 0;
  for (let start = 0; start < rows; start += mb) {
    const count = Math.min(mb, rows - start);
    // Plain loops: a subarray and a set per row cost more than the copy itself at these widths.
    for (let r = 0; r < count; r++) {
      const row = order[start + r]!;
      const xFrom = row * nIn;
      const xTo = r * nIn;
      for (let c = 0; c < nIn; c++) xBuf[xTo + c] = x[xFrom + c]!;
      const yFrom = row * nOut;
      const yTo = r * nOut;
      for (let c = 0; c < nOut; c++) yBuf[yTo + c] = y[yFrom + c]!;
    }
    if (count === mb) {
      feeds['x'] = fullX;
      feeds['y'] = fullY;
    } else {
      feeds['x'] = new ort.Tensor('float32', xBuf.subarray(0, count * nIn), [count, nIn]);
      feeds['y'] = new ort.Tensor('float32', yBuf.subarray(0, count * nOut), [count, nOut]);
    }
    await session.run(feeds, fetches);
    const loss = lossOut[0]!;
    if (!Number.isFinite(loss)) {
      throw new TrainingDivergedError(
        `training loss became ${loss} at step ${steps + 1} (rows ${start}..${start + count - 1} of the batch)`,
      );
    }
    applyUpdate(optimizer, optState, params, grads);
    lossSum += loss * count;
    steps += 1;
  }
  return { params, optState, lossSum, rows, steps };
}

/**
 * Runs the forward graph on `rows` rows of preprocessed features.
 * @param params Parameters in `parameterShapes(spec)` order.
 * @param x rows × spec.inputs features, row-major.
 * @returns rows × spec.outputs values: class probabilities, or the standardised prediction.
 */
export async function forwardBatch(
  spec: ModelSpec,
  params: readonly Float32Array[],
  x: Float32Array,
  rows: number,
): Promise<Float32Array> {
  const shapes = parameterShapes(spec);
  checkParams(shapes, params);
  checkRows('x', x, rows, spec.inputs);
  if (rows === 0) return new Float32Array(0);
  const session = await getCachedSession(specKey('forward', spec), () => buildForwardGraph(spec));
  const feeds: Record<string, ort.Tensor> = {
    x: new ort.Tensor('float32', x.subarray(0, rows * spec.inputs), [rows, spec.inputs]),
  };
  shapes.forEach((p, i) => {
    feeds[p.name] = new ort.Tensor('float32', params[i]!, p.shape);
  });
  const out = await session.run(feeds);
  return out['output']!.data as Float32Array;
}
