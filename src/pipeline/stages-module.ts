/**
 * User-supplied stages (`--stages ./my-stages.js`): an ES module that every executor imports by
 * path, so the same code runs inline, in worker threads, or on other machines.
 *
 * A stages module may export:
 * - `preprocess(batch, context)`: returns a raw batch with the same columns, transformed
 *   (clipping, log-scaling, fixing codes...). It runs before the built-in preprocessing in every
 *   pass, on every executor. It must be deterministic and must not change `rowCount` or `rowIndex`.
 * - `evaluate(input)`: returns serialisable per-batch statistics of the held-out rows, and
 *   `aggregate(parts)`: folds them (in batch-id order) into named numbers reported beside the
 *   built-in metrics. The two come together.
 *
 * @module
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { access } from 'node:fs/promises';
import { StagesModuleError } from '../errors.js';
import type { RawBatch, Schema } from '../data/types.js';
import type { PreprocessingSpec } from '../model/spec.js';

/** What a custom `preprocess` is given besides the batch. */
export interface StageContext {
  readonly schema: Schema;
}

/** What a custom `evaluate` is given: the held-out rows of one batch and the model's outputs. */
export interface CustomEvaluateInput {
  readonly batchId: number;
  readonly rows: number;
  /** Class index (classification) or target value (regression) per row. */
  readonly target: Int32Array | Float32Array;
  /** rows × classes probabilities, or rows predictions in the target's units. */
  readonly output: Float32Array;
  readonly preprocessing: PreprocessingSpec;
}

/** The shape of a stages module. */
export interface StagesModule {
  preprocess?(batch: RawBatch, context: StageContext): RawBatch | Promise<RawBatch>;
  evaluate?(input: CustomEvaluateInput): unknown;
  aggregate?(parts: unknown[]): Record<string, number>;
}

const cache = new Map<string, Promise<StagesModule>>();

/** Resolves a user-given path to the URL every executor imports. Rejects if the file is missing. */
export async function resolveStagesModule(path: string, cwd = process.cwd()): Promise<string> {
  const absolute = resolve(cwd, path);
  try {
    await access(absolute);
  } catch (err) {
    throw new StagesModuleError(`--stages: cannot read ${absolute}`, { cause: err });
  }
  const url = pathToFileURL(absolute).href;
  await loadStagesModule(url);
  return url;
}

/** Imports and checks a stages module (once per thread). */
export function loadStagesModule(url: string): Promise<StagesModule> {
  let loading = cache.get(url);
  if (!loading) {
    loading = importAndCheck(url);
    cache.set(url, loading);
  }
  return loading;
}

async function importAndCheck(url: string): Promise<StagesModule> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new StagesModuleError(`--stages: cannot import ${url}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const known = ['preprocess', 'evaluate', 'aggregate'];
  for (const name of known) {
    if (mod[name] !== undefined && typeof mod[name] !== 'function') {
      throw new StagesModuleError(
        `--stages: export "${name}" of ${url} must be a function, got ${typeof mod[name]}`,
      );
    }
  }
  if (!known.some((name) => typeof mod[name] === 'function')) {
    throw new StagesModuleError(`--stages: ${url} exports none of ${known.join(', ')}`);
  }
  if ((typeof mod.evaluate === 'function') !== (typeof mod.aggregate === 'function')) {
    throw new StagesModuleError(
      `--stages: ${url} must export both "evaluate" and "aggregate", or neither`,
    );
  }
  return mod as StagesModule;
}
