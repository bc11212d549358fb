/**
 * The instance pool's options, their defaults next to them, and their validation (at
 * `InstancePool.create`, its public boundary).
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { ModelLoadError } from '../../errors.js';
import { dropUndefined } from '../../util/options.js';

/** Options of `InstancePool.create`. Give exactly one of `modelPath` and `modelBytes`. */
export interface InstancePoolOptions {
  /** An .onnx file; read once, so restarted instances load the same bytes even if the file changes. */
  readonly modelPath?: string;
  /** A serialized ONNX model. */
  readonly modelBytes?: Uint8Array;
  /** Sessions, one worker thread each. */
  readonly instances?: number;
  /** onnxruntime intra-op threads per session. Instances × intra-op threads should not exceed the cores. */
  readonly intraOpThreads?: number;
  /** Whether idle onnxruntime threads spin-wait (a little lower latency; burns CPU between batches). */
  readonly allowSpinning?: boolean;
  /** A batch running longer than this rejects and its thread is replaced, in ms; 0 = no limit. */
  readonly runTimeoutMs?: number;
  /** A batch running longer than this makes `health()` not ready, in ms. */
  readonly wedgedAfterMs?: number;
  /** An instance that has not loaded the model after this long has failed to load, in ms. */
  readonly loadTimeoutMs?: number;
}

/** Defaults of `InstancePoolOptions`. */
export const kDefaultInstancePoolOptions = {
  instances: 1,
  intraOpThreads: 1,
  allowSpinning: false, // idle ORT threads must not take cores from the HTTP thread and other instances
  runTimeoutMs: 0, // no limit
  wedgedAfterMs: 30_000, // 30 s
  loadTimeoutMs: 300_000, // 5 min: a large model's session takes seconds to minutes; a hung one, for ever
} as const;

/** The options with the defaults filled in and the model read: what the pool and its instances run with. */
export type FilledInstancePoolOptions = Omit<
  Required<InstancePoolOptions>,
  'modelPath' | 'modelBytes'
> & {
  readonly modelBytes: Uint8Array;
  /** The model's source, for messages: its path, or "model bytes". */
  readonly source: string;
  /** Test hook: each new thread blocks this long before it loads, as a hung load would. */
  readonly loadStallMs?: number;
};

/** Test hooks, under a symbol so that they stay out of the public API. */
export const kInstancePoolTestHooks = Symbol('mlscale.instancePool.testHooks');

/** Test options of `InstancePool.create`, under `kInstancePoolTestHooks`: `{ loadStallMs }`, as `stallLoads()`. */
export interface InstancePoolTestOptions {
  readonly loadStallMs?: number;
}

/**
 * Validates the options, fills the defaults and reads the model.
 * @throws {TypeError | RangeError} for invalid options; {ModelLoadError} when the file cannot be read.
 */
export async function fillInstancePoolOptions(
  options: InstancePoolOptions,
): Promise<FilledInstancePoolOptions> {
  if (options === null || typeof options !== 'object')
    throw new TypeError(`options must be an object, got ${String(options)}`);
  const test = (options as { readonly [kInstancePoolTestHooks]?: InstancePoolTestOptions })[
    kInstancePoolTestHooks
  ];
  const o = {
    ...kDefaultInstancePoolOptions,
    ...dropUndefined(options),
    ...(test?.loadStallMs ? { loadStallMs: test.loadStallMs } : {}),
  };
  checkPositiveInteger('options.instances', o.instances);
  checkPositiveInteger('options.intraOpThreads', o.intraOpThreads);
  checkPositiveInteger('options.wedgedAfterMs', o.wedgedAfterMs);
  checkPositiveInteger('options.loadTimeoutMs', o.loadTimeoutMs);
  if (!(Number.isInteger(o.runTimeoutMs) && o.runTimeoutMs >= 0)) {
    throw new TypeError(
      `options.runTimeoutMs must be a non-negative integer (0 = no limit), got ${String(o.runTimeoutMs)}`,
    );
  }
  if (typeof o.allowSpinning !== 'boolean')
    throw new TypeError(`options.allowSpinning must be a boolean, got ${String(o.allowSpinning)}`);
  const { modelPath, modelBytes } = options;
  if (modelPath !== undefined && modelBytes !== undefined)
    throw new RangeError('give options.modelPath or options.modelBytes, not both');
  if (modelBytes !== undefined) {
    if (!(modelBytes instanceof Uint8Array))
      throw new TypeError(`options.modelBytes must be a Uint8Array, got ${typeof modelBytes}`);
    // A private copy: restarted instances must load exactly what the first ones did.
    return { ...o, modelBytes: modelBytes.slice(), source: 'model bytes' };
  }
  if (typeof modelPath !== 'string' || modelPath === '') {
    throw new TypeError(
      `options.modelPath must be a file path (or give options.modelBytes), got ${JSON.stringify(modelPath)}`,
    );
  }
  try {
    return { ...o, modelBytes: new Uint8Array(await readFile(modelPath)), source: modelPath };
  } catch (err) {
    throw new ModelLoadError(`${modelPath}: cannot read the model: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** TypeError unless `value` is a positive integer (the pool's options and `resize()`'s size). */
export function checkPositiveInteger(what: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new TypeError(`${what} must be a positive integer, got ${String(value)}`);
  }
}
