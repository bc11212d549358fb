/**
 * Sessions and inputs for measuring a model and its variants: sessions made as the server makes
 * them, and inputs made up for any model, from mlscale's preprocessing statistics when the model
 * has them (realistic rows) or from the declared input shapes (standard normal values).
 *
 * @module
 */
import ort from 'onnxruntime-node';
import { OnnxCorruptError } from '../../errors.js';
import { Prng } from '../prng.js';

/** One model input as onnxruntime declares it. */
export interface InputSpec {
  readonly name: string;
  /** onnxruntime's tensor type, e.g. 'float32', 'int64', 'string'. */
  readonly type: string;
  /** Fixed sizes, or names / -1 for symbolic ones. */
  readonly shape: readonly (number | string)[];
}

/** Named input tensors of one run. */
export type Feeds = Record<string, ort.Tensor>;

/**
 * Statistics of mlscale's preprocessing (metadata.json `preprocessing`): the inputs `x` (numeric
 * columns) and `x_cat` (categorical columns) are drawn from them.
 */
export interface InputStats {
  readonly numeric: {
    readonly names: readonly string[];
    readonly mean: readonly number[];
    readonly std: readonly number[];
  };
  readonly categorical: {
    readonly names: readonly string[];
    readonly vocab: readonly (readonly string[])[];
  };
}

/**
 * A session configured as `mlscale serve` configures its instances (sequential, graph
 * optimisation 'all', no spinning), with `threads` intra-op threads.
 * @throws OnnxCorruptError when onnxruntime refuses the model.
 */
export async function createMeasureSession(
  bytes: Uint8Array,
  file: string,
  threads: number,
): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Warnings (an unused initializer removed, ...) are onnxruntime's business, not the user's.
      logSeverityLevel: 3,
      extra: { 'session.intra_op.allow_spinning': '0', 'session.inter_op.allow_spinning': '0' },
    });
  } catch (err) {
    throw new OnnxCorruptError(`onnxruntime cannot load ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** The session's tensor inputs. */
export function describeInputs(session: ort.InferenceSession): InputSpec[] {
  return session.inputMetadata.map((m) =>
    m.isTensor
      ? { name: m.name, type: m.type, shape: [...m.shape] }
      : { name: m.name, type: 'unknown', shape: [] },
  );
}

/** Whether the model takes a batch: every input's first dimension is symbolic. */
export function isBatchable(inputs: readonly InputSpec[]): boolean {
  return (
    inputs.length > 0 &&
    inputs.every((i) => i.shape.length > 0 && (typeof i.shape[0] !== 'number' || i.shape[0] < 0))
  );
}

/** The shape of an input for `rows` rows: the first symbolic dim is the batch, other symbolic dims are 1. */
function concreteShape(spec: InputSpec, rows: number): number[] {
  return spec.shape.map((d, i) => (typeof d === 'number' && d >= 0 ? d : i === 0 ? rows : 1));
}

/**
 * Made-up inputs for `rows` rows, the same for the same seed: mlscale's `x`/`x_cat` from the
 * preprocessing statistics (numeric columns ~ N(mean, std), categories drawn from the
 * vocabulary), every other float input ~ N(0, 1), integer inputs in 0..9, strings empty.
 * @throws RangeError for an input type it cannot make.
 */
export function syntheticFeeds(
  inputs: readonly InputSpec[],
  rows: number,
  seed: number,
  stats?: InputStats,
): Feeds {
  const rng = new Prng(seed);
  const feeds: Feeds = {};
  for (const spec of inputs) {
    const shape = concreteShape(spec, rows);
    const size = shape.reduce((a, b) => a * b, 1);
    const width = shape.length > 1 ? size / shape[0]! : 1;
    if (spec.type === 'float32') {
      const data = new Float32Array(size);
      const numeric =
        spec.name === 'x' && stats && stats.numeric.mean.length === width
          ? stats.numeric
          : undefined;
      for (let i = 0; i < size; i++) {
        const c = i % width;
        data[i] = numeric ? numeric.mean[c]! + numeric.std[c]! * rng.normal() : rng.normal();
      }
      feeds[spec.name] = new ort.Tensor('float32', data, shape);
    } else if (spec.type === 'string') {
      const vocab =
        spec.name === 'x_cat' && stats && stats.categorical.vocab.length === width
          ? stats.categorical.vocab
          : undefined;
      const data = Array.from({ length: size }, (_, i) => {
        const v = vocab?.[i % width];
        return v && v.length > 0 ? v[rng.nextInt(v.length)]! : '';
      });
      feeds[spec.name] = new ort.Tensor('string', data, shape);
    } else if (spec.type === 'int64') {
      feeds[spec.name] = new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: size }, () => BigInt(rng.nextInt(10))),
        shape,
      );
    } else if (spec.type === 'int32') {
      feeds[spec.name] = new ort.Tensor(
        'int32',
        Int32Array.from({ length: size }, () => rng.nextInt(10)),
        shape,
      );
    } else if (spec.type === 'bool') {
      feeds[spec.name] = new ort.Tensor(
        'bool',
        Uint8Array.from({ length: size }, () => rng.nextInt(2)),
        shape,
      );
    } else {
      throw new RangeError(
        `input ${spec.name} has type ${spec.type}, which mlscale optimize cannot make up values for; give --data`,
      );
    }
  }
  return feeds;
}

/** Rows `from`..`to` of every feed (along the first dimension). */
export function sliceFeeds(feeds: Feeds, from: number, to: number): Feeds {
  const out: Feeds = {};
  for (const [name, t] of Object.entries(feeds)) {
    const rows = t.dims[0]!;
    const width = rows > 0 ? t.size / rows : 0;
    const data = (t.data as unknown as { slice(a: number, b: number): unknown }).slice(
      from * width,
      to * width,
    );
    out[name] = new ort.Tensor(t.type as 'float32', data as Float32Array, [
      to - from,
      ...t.dims.slice(1),
    ]);
  }
  return out;
}
