/**
 * Executors, chosen at the edge by kind.
 *
 * @module
 */
import { InvalidOptionError } from '../../errors.js';
import { executorKinds, type Executor, type ExecutorKind } from './executor.js';
import { BullmqExecutor } from './bullmq/bullmq-executor.js';
import { InlineExecutor } from './inline.js';
import { ThreadsExecutor } from './threads/threads-executor.js';

export type { Executor, ExecutorKind, TaskCall, TaskRef } from './executor.js';
export { executorKinds } from './executor.js';
export { InlineExecutor } from './inline.js';
export { ThreadsExecutor, type ThreadsExecutorOptions } from './threads/threads-executor.js';
export {
  BullmqExecutor,
  type BullmqActivity,
  type BullmqExecutorOptions,
} from './bullmq/bullmq-executor.js';

/** Options for `createExecutor`. */
export interface CreateExecutorOptions {
  /** Worker count for pooled executors. Ignored by `inline`. */
  readonly workers?: number;
  /** Redis URL for `bullmq`. */
  readonly redis?: string;
  /** Redis key prefix for `bullmq`, shared with the workers. */
  readonly prefix?: string;
  /** `bullmq`: the run id, to resume a run; default a fresh one. */
  readonly run?: string;
  /** `bullmq`: attempts per batch. */
  readonly attempts?: number;
  /** `bullmq`: seconds a failed job is kept. */
  readonly keepFailedSeconds?: number;
  /** `bullmq`: a CA file for a `rediss://` Redis. */
  readonly redisCa?: string;
}

/** Builds the executor named by `kind`. */
export function createExecutor(kind: string, options: CreateExecutorOptions = {}): Executor {
  if (!(executorKinds as readonly string[]).includes(kind)) {
    throw new InvalidOptionError(
      `--executor must be one of ${executorKinds.join(', ')}, got "${kind}"`,
    );
  }
  switch (kind as ExecutorKind) {
    case 'inline':
      return new InlineExecutor();
    case 'threads':
      return new ThreadsExecutor({ workers: options.workers });
    case 'bullmq':
      if (options.redis === undefined)
        throw new InvalidOptionError(
          '--executor bullmq needs --redis URL, e.g. --redis redis://127.0.0.1:6379',
        );
      return new BullmqExecutor({
        redis: options.redis,
        redisCa: options.redisCa,
        prefix: options.prefix,
        concurrency: options.workers,
        run: options.run,
        attempts: options.attempts,
        keepFailedSeconds: options.keepFailedSeconds,
      });
  }
}
