/**
 * Options of a training run, their defaults, and their validation — done once, here, at the edge.
 *
 * @module
 */
import { availableParallelism, totalmem } from 'node:os';
import {
  checkInteger,
  checkOneOf,
  checkPositive,
  dropUndefined,
  invalidOption,
} from '../util/options.js';
import type { BadRowPolicy, Task } from '../data/types.js';
import type { Activation, ModelFamily } from '../model/spec.js';
import { executorKinds, type ExecutorKind } from './executors/executor.js';

/** Every setting of a training run, filled. */
export interface TrainingOptions {
  /** Data source: a CSV/JSONL path, `synthetic:...` or `sample:digits`. */
  readonly data: string;
  /** Label column; defaults to the source's own label (synthetic, sample). */
  readonly label?: string;
  /** Forces the task; otherwise inferred from the label column. */
  readonly task?: Task;
  /** Output artifact folder. */
  readonly out: string;
  readonly executor: ExecutorKind;
  /** Worker threads for `threads` (default: CPU count). */
  readonly workers: number;
  /** Pipeline batch: rows per task handed to an executor. */
  readonly batchSize: number;
  /** Batches trained from the same weights before they are averaged (K). Not the worker count. */
  readonly syncEvery: number;
  /**
   * Passes over the data, or `auto`: early stopping on a validation slice of the training rows
   * (see `early-stopping.ts`).
   */
  readonly epochs: number | 'auto';
  /** Optimiser mini-batch inside a task, in rows. */
  readonly minibatch: number;
  /**
   * `auto`: on a small table (up to `kRefitRows` training rows) with `epochs: 'auto'`, a linear
   * model and an MLP are both tried on the validation slice and the better is kept; otherwise an MLP.
   */
  readonly model: ModelFamily | 'auto';
  /** Hidden layer widths for `mlp`. */
  readonly hidden: readonly number[];
  readonly activation: Activation;
  readonly optimizer: 'adam' | 'sgd';
  readonly learningRate: number;
  /** SGD momentum. */
  readonly momentum: number;
  /** L2 penalty on weights (not biases). */
  readonly l2: number;
  readonly seed: number;
  /** Fraction of rows held out for evaluation, chosen by a hash of row index and seed. */
  readonly holdout: number;
  /** Most categories kept per categorical column. */
  readonly maxCategories: number;
  readonly onBadRow: BadRowPolicy;
  /** Text values read as missing (besides the empty field); default pandas' list. */
  readonly naValues?: readonly string[];
  /** Columns to treat as categorical / numeric whatever their values. */
  readonly categorical?: readonly string[];
  readonly numeric?: readonly string[];
  /**
   * The batch cache: `auto` keeps parsed batches in memory within `cacheMemory`, then on disk;
   * `disk` writes them all to files; `none` parses the data again on every pass.
   */
  readonly cache: 'auto' | 'disk' | 'none';
  /** Memory for cached batches, in bytes. */
  readonly cacheMemory: number;
  /** Folder for cached batch files; given, it is kept and reused by later runs on the same data. */
  readonly cacheDir?: string;
  /** Path of a user stages module. */
  readonly stages?: string;
  /** Redis URL of the `bullmq` executor's queue. */
  readonly redis?: string;
  /** Redis key prefix of the `bullmq` executor, shared with the workers. */
  readonly prefix?: string;
  /** `bullmq`: the id of an interrupted run to continue from its last completed round. */
  readonly resume?: string;
  /** `bullmq`: attempts per batch before the run fails (default 3). */
  readonly attempts?: number;
  /** `bullmq`: hours a failed job stays in Redis for inspection (default 168, a week). */
  readonly keepFailedHours?: number;
  /**
   * `bullmq`: send CSV/JSONL batches as rows even when the file is named by absolute path (by
   * default such a file is taken to be on storage every worker reads, and batches go as byte ranges).
   */
  readonly shipRows?: boolean;
  /** `bullmq`: a PEM file of the CA that signed a `rediss://` Redis's certificate. */
  readonly redisCa?: string;
}

/** Defaults; the model and optimiser settings reach >0.9 accuracy on the digits sample. */
export const kDefaultTrainingOptions = {
  data: 'sample:digits',
  out: 'runs/model',
  executor: 'threads',
  workers: availableParallelism(),
  batchSize: 4096, // rows
  syncEvery: 4, // batches per averaging round
  epochs: 'auto',
  minibatch: 64, // rows
  model: 'auto',
  hidden: [64],
  activation: 'relu',
  optimizer: 'adam',
  learningRate: 0.005,
  momentum: 0.9,
  l2: 1e-4,
  seed: 42,
  holdout: 0.2,
  maxCategories: 100,
  onBadRow: 'error',
  cache: 'auto',
  // 30% of RAM, as Ray's object store takes by default: room for the batches of most tables
  // while the rest of the machine works.
  cacheMemory: Math.floor(0.3 * totalmem()), // bytes
} as const satisfies Omit<
  TrainingOptions,
  | 'label'
  | 'task'
  | 'stages'
  | 'redis'
  | 'prefix'
  | 'resume'
  | 'attempts'
  | 'keepFailedHours'
  | 'shipRows'
  | 'redisCa'
  | 'naValues'
  | 'categorical'
  | 'numeric'
  | 'cacheDir'
>;

/** Validates user options over the defaults and returns a frozen, filled copy. */
export function resolveTrainingOptions(
  options: Partial<TrainingOptions>,
): Readonly<TrainingOptions> {
  const o: TrainingOptions = { ...kDefaultTrainingOptions, ...dropUndefined(options) };
  if (typeof o.data !== 'string' || o.data.length === 0)
    invalidOption('data', 'a path or a source spec', o.data);
  if (o.label !== undefined && (typeof o.label !== 'string' || o.label === ''))
    invalidOption('label', 'a column name', o.label);
  checkOneOf('task', o.task, ['classification', 'regression'], true);
  checkOneOf('executor', o.executor, executorKinds);
  checkInteger('workers', o.workers, 1, 1024);
  if (
    o.resume !== undefined &&
    (o.executor !== 'bullmq' || typeof o.resume !== 'string' || !/^[\w-]+$/.test(o.resume))
  ) {
    invalidOption(
      'resume',
      'the run id a bullmq run printed (letters, digits, _ and -), with options.executor bullmq',
      o.resume,
    );
  }
  if (o.attempts !== undefined) checkInteger('attempts', o.attempts, 1, 1000);
  if (
    o.keepFailedHours !== undefined &&
    !(
      typeof o.keepFailedHours === 'number' &&
      o.keepFailedHours > 0 &&
      o.keepFailedHours <= 24 * 365
    )
  ) {
    invalidOption(
      'keepFailedHours',
      'a number of hours above 0, at most a year',
      o.keepFailedHours,
    );
  }
  if (o.shipRows !== undefined && typeof o.shipRows !== 'boolean')
    invalidOption('shipRows', 'true or false', o.shipRows);
  if (
    o.redisCa !== undefined &&
    (typeof o.redisCa !== 'string' || o.redisCa === '' || o.executor !== 'bullmq')
  )
    invalidOption('redisCa', 'a PEM file, with options.executor bullmq', o.redisCa);
  if (o.executor === 'bullmq' && (typeof o.redis !== 'string' || o.redis === ''))
    invalidOption(
      'redis',
      "the URL of the queue's Redis with options.executor bullmq, e.g. redis://127.0.0.1:6379",
      o.redis,
    );
  checkInteger('batchSize', o.batchSize, 1, 1 << 24);
  checkInteger('syncEvery', o.syncEvery, 1, 1 << 16);
  if (o.epochs !== 'auto') checkInteger('epochs', o.epochs, 1, 100_000);
  checkInteger('minibatch', o.minibatch, 1, 1 << 24);
  checkOneOf('model', o.model, ['auto', 'linear', 'mlp']);
  if (
    !Array.isArray(o.hidden) ||
    o.hidden.length === 0 ||
    o.hidden.some((h) => !Number.isInteger(h) || h < 1 || h > 65536)
  ) {
    invalidOption(
      'hidden',
      'a comma-separated list of positive layer widths, e.g. 64,32',
      o.hidden,
    );
  }
  checkOneOf('activation', o.activation, ['relu', 'tanh']);
  checkOneOf('optimizer', o.optimizer, ['adam', 'sgd']);
  checkPositive('learningRate', o.learningRate);
  if (!(o.momentum >= 0 && o.momentum < 1))
    invalidOption('momentum', 'a number in [0, 1)', o.momentum);
  if (!(o.l2 >= 0 && Number.isFinite(o.l2))) invalidOption('l2', 'a number >= 0', o.l2);
  checkInteger('seed', o.seed, 0, 0xffffffff);
  if (!(o.holdout > 0 && o.holdout < 1))
    invalidOption('holdout', 'a fraction strictly between 0 and 1', o.holdout);
  checkInteger('maxCategories', o.maxCategories, 1, 1 << 20);
  checkOneOf('onBadRow', o.onBadRow, ['error', 'skip']);
  checkOneOf('cache', o.cache, ['auto', 'disk', 'none']);
  if (
    typeof o.cacheMemory !== 'number' ||
    !Number.isSafeInteger(o.cacheMemory) ||
    o.cacheMemory < 0
  )
    invalidOption('cacheMemory', 'a size in bytes >= 0 (2G, 512M, 25%)', o.cacheMemory);
  if (o.cacheDir !== undefined && (typeof o.cacheDir !== 'string' || o.cacheDir === ''))
    invalidOption('cacheDir', 'a folder path', o.cacheDir);
  if (o.cacheDir !== undefined && o.cache === 'none')
    invalidOption('cacheDir', 'left out with options.cache none', o.cacheDir);
  for (const name of ['naValues', 'categorical', 'numeric'] as const) {
    const list = o[name];
    if (list !== undefined && (!Array.isArray(list) || list.some((v) => typeof v !== 'string')))
      invalidOption(name, 'a list of strings', list);
  }
  if (o.out === undefined || o.out === '') invalidOption('out', 'a folder path', o.out);
  return Object.freeze({ ...o, hidden: Object.freeze([...o.hidden]) });
}
