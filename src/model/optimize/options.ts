/**
 * Options of `mlscale optimize` (and `optimizeModel`), their defaults, and their validation —
 * done once, here.
 *
 * @module
 */
import { InvalidOptionError } from '../../errors.js';
import type { Int8Ops } from './quantize-int8.js';

/** The variants `mlscale optimize` can make. */
export const kVariantKinds = ['int8', 'fp16', 'graph'] as const;
/** One variant. */
export type VariantKind = (typeof kVariantKinds)[number];

/** Every setting of an optimisation run, filled. */
export interface OptimizeOptions {
  /** A .onnx file or a model folder (model.onnx + metadata.json); with `modelRepository`, a model name. */
  readonly model: string;
  /** A Triton-style repository (`<repo>/<model>/<version>/model.onnx`) holding `model`. */
  readonly modelRepository?: string;
  /** The variants to make; empty means every one that applies to the model. */
  readonly variants: readonly VariantKind[];
  /** INT8 operators: ONNX standard ops (any runtime; fused by onnxruntime) or onnxruntime's contrib op. */
  readonly int8Ops: Int8Ops;
  /** 7-bit weights: 'auto' when this machine's onnxruntime saturates u8s8 products (measured). */
  readonly reduceRange: 'auto' | 'on' | 'off';
  /** Layers with fewer weights (K × N) stay FP32. */
  readonly int8MinWeights: number;
  /** Labelled data to measure accuracy / R² on (a --data source, as `mlscale train` takes it). */
  readonly data?: string;
  /** The label column of `data` (mlscale's models know theirs). */
  readonly label?: string;
  /** A variant losing more accuracy than this, in points (0.5 = half a percentage point), is not written. */
  readonly maxAccuracyDrop: number;
  /** Write variants that are slower or lose more accuracy than allowed (still reported). */
  readonly force: boolean;
  /** The serving batch: rows per run of the second speed measurement (the first is batch 1). */
  readonly batchSize: number;
  /** Interleaved repeats of the speed measurement. */
  readonly repeats: number;
  /** Milliseconds each model runs per repeat and batch size. */
  readonly measureMs: number;
  /** onnxruntime intra-op threads of the measuring sessions. */
  readonly threads: number;
  /** Rows compared when there is no data. */
  readonly agreementRows: number;
  /** Most labelled rows scored. */
  readonly maxDataRows: number;
  /** For a .onnx file: the folder to write variants to (default: beside the file). */
  readonly out?: string;
}

/**
 * Defaults. One intra-op thread: the per-row cost of one onnxruntime thread is the unit a server
 * scales from (instances × threads), and on a shared machine it is the least disturbed figure.
 */
export const kDefaultOptimizeOptions = {
  variants: [],
  int8Ops: 'standard',
  reduceRange: 'auto',
  int8MinWeights: 65_536, // weights per layer (K × N); measured break-even, docs/optimize.md
  maxAccuracyDrop: 0.5, // percentage points
  force: false,
  batchSize: 64, // rows
  repeats: 5,
  measureMs: 150, // ms per model, repeat and batch size
  threads: 1,
  agreementRows: 1024, // rows
  maxDataRows: 100_000, // rows
} as const satisfies Partial<OptimizeOptions>;

/**
 * A variant counts as slower when its median rows/s at the serving batch is below this share of
 * the original's AND it was slower in every interleaved repeat. Both, because this shared 2-core
 * machine is noisy: four sessions of one and the same model measured 0.84x to 1.10x of each other
 * (median of 5 repeats), while a variant that is really slower loses in every repeat; with 5
 * repeats, an equal variant loses all of them by chance once in 32 runs, and the 5% margin
 * covers that case.
 */
export const kSlowerBelow = 0.95;

function fail(flag: string, what: string, got: unknown): never {
  throw new InvalidOptionError(`${flag} must be ${what}, got ${JSON.stringify(got)}`);
}

function int(flag: string, v: unknown, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    fail(flag, `an integer from ${min} to ${max}`, v);
}

/** Validates options over the defaults; throws InvalidOptionError naming the flag. */
export function resolveOptimizeOptions(
  options: Partial<OptimizeOptions>,
): Readonly<OptimizeOptions> {
  const given = Object.fromEntries(
    Object.entries(options).filter(([, v]) => v !== undefined),
  ) as Partial<OptimizeOptions>;
  const o: OptimizeOptions = { ...kDefaultOptimizeOptions, ...given } as OptimizeOptions;
  if (typeof o.model !== 'string' || o.model === '') {
    fail(
      'the model',
      'a .onnx file, a model folder, or --model-repository DIR --model NAME',
      o.model,
    );
  }
  if (
    o.modelRepository !== undefined &&
    (typeof o.modelRepository !== 'string' || o.modelRepository === '')
  )
    fail('options.modelRepository', 'a folder', o.modelRepository);
  if (
    !Array.isArray(o.variants) ||
    o.variants.some((v) => !(kVariantKinds as readonly string[]).includes(v))
  )
    fail('the variants', `a list of ${kVariantKinds.join(', ')}`, o.variants);
  if (o.int8Ops !== 'standard' && o.int8Ops !== 'ort')
    fail('options.int8Ops', 'standard or ort', o.int8Ops);
  if (!['auto', 'on', 'off'].includes(o.reduceRange))
    fail('options.reduceRange', 'auto, on or off', o.reduceRange);
  int('options.int8MinWeights', o.int8MinWeights, 0, 2 ** 31);
  if (o.data !== undefined && (typeof o.data !== 'string' || o.data === ''))
    fail(
      'options.data',
      'a data source (a .csv or .jsonl file, sample:NAME, synthetic:...)',
      o.data,
    );
  if (o.label !== undefined && (typeof o.label !== 'string' || o.label === ''))
    fail('options.label', 'a column name', o.label);
  if (o.label !== undefined && o.data === undefined)
    throw new InvalidOptionError(
      'options.label goes with options.data: the label column of the data to score the variants on',
    );
  if (
    typeof o.maxAccuracyDrop !== 'number' ||
    !Number.isFinite(o.maxAccuracyDrop) ||
    o.maxAccuracyDrop < 0 ||
    o.maxAccuracyDrop > 100
  ) {
    fail(
      'options.maxAccuracyDrop',
      'a number of percentage points from 0 to 100',
      o.maxAccuracyDrop,
    );
  }
  if (typeof o.force !== 'boolean') fail('options.force', 'true or false', o.force);
  int('options.batchSize', o.batchSize, 1, 1 << 16);
  int('options.repeats', o.repeats, 1, 101);
  int('options.measureMs', o.measureMs, 1, 60_000);
  int('options.threads', o.threads, 1, 256);
  int('agreementRows', o.agreementRows, 1, 1 << 20);
  int('maxDataRows', o.maxDataRows, 1, 1 << 24);
  if (o.out !== undefined && (typeof o.out !== 'string' || o.out === ''))
    fail('options.out', 'a folder', o.out);
  if (o.out !== undefined && o.modelRepository !== undefined)
    throw new InvalidOptionError(
      "options.out applies to a .onnx file; a repository model's variants go beside it in the repository (<model>-<variant>)",
    );
  return Object.freeze({ ...o, variants: Object.freeze([...new Set(o.variants)]) });
}
