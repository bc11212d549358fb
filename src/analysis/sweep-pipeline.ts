/**
 * `sweepPipeline`: the training pipeline over a grid of data sizes (number of batches) and worker
 * counts, each run on the first `batches × batchSize` rows of one data source, timed as a whole
 * and per phase (fit, train, evaluate). Each run gets a fresh executor and an unrecorded warm-up
 * run on it first, so the times are those of a warm pipeline.
 *
 * @module
 */
import { dropUndefined } from '../util/options.js';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { InvalidOptionError } from '../errors.js';
import { openSource } from '../data/open-source.js';
import type { BatchOptions, DataSource, RandomAccess, Schema } from '../data/types.js';
import { createExecutor } from '../pipeline/executors/index.js';
import {
  deleteKeysUnder,
  parseRedisUrl,
  payloadClient,
  probeRedis,
  type RedisTarget,
} from '../pipeline/executors/bullmq/redis-connection.js';
import { resolveTrainingOptions, type TrainingOptions } from '../pipeline/options.js';
import { runTraining, type Phase, type RunTimings } from '../pipeline/run-training.js';
import { machineInfo } from './machine-info.js';
import { startWorkerProcesses } from './worker-processes.js';
import { cartesian, parseNumberList } from './sweep-grid.js';
import {
  kSweepSchemaVersion,
  type PhaseDetail,
  type PipelinePoint,
  type PipelineSweep,
  statisticWords,
} from './sweep-schema.js';

/** Which repeat of a grid point a pipeline sweep records. */
export type PipelineStatistic = NonNullable<PipelineSweep['statistic']>;

/** The executors a pipeline sweep can run. */
export type SweepExecutor = PipelineSweep['executor'];

/** What `sweepPipeline` takes. */
export interface PipelineSweepOptions {
  /** A data source as `mlscale train --data` takes it. */
  readonly data: string;
  readonly label?: string;
  /** The data sizes: how many batches each run reads. */
  readonly batches: readonly number[];
  /** Executor workers; only 1 for inline. */
  readonly workers: readonly number[];
  readonly executor: SweepExecutor;
  /** Rows per batch; default: the source's rows / the largest batch count. */
  readonly batchSize?: number;
  /** Runs per grid point; `statistic` picks the one recorded. */
  readonly repeats: number;
  /**
   * Which of a point's repeats is recorded: the run of `median` time (default: the typical run),
   * or the `fastest` (the work's own cost: on a shared machine other work only ever adds time, so
   * the fastest run is the one it disturbed least).
   */
  readonly statistic: PipelineStatistic;
  /** Training epochs per run. */
  readonly epochs: number;
  /** bullmq: the queue's Redis; the sweep starts `workers` `mlscale worker` processes against it. */
  readonly redis?: string;
  /** bullmq: the Redis key prefix of the sweep's queue; default a fresh `mlscale-sweep-<random>`. Its keys are removed at the end. */
  readonly prefix?: string;
  readonly model: TrainingOptions['model'];
  /** bullmq: how each worker process is started (a benchmark runs each on a simulated host); default: directly. */
  readonly launchWorker?: (index: number, argv: string[]) => [string, string[]];
  /** One line per run. */
  readonly onProgress?: (line: string) => void;
  /** Stops the sweep before its next run (the running one finishes); the sweep then rejects with the abort reason. */
  readonly signal?: AbortSignal;
}

/** Defaults of everything but the data and the grid. */
export const kDefaultPipelineSweepOptions = {
  executor: 'threads',
  repeats: 1,
  statistic: 'median',
  epochs: 1, // one pass: the sweep measures how time scales, and epochs only multiply it
  model: 'mlp',
} as const satisfies Partial<PipelineSweepOptions>;

const kExecutors: readonly SweepExecutor[] = ['inline', 'threads', 'bullmq'];

/** Validates and fills pipeline sweep options; throws `InvalidOptionError` naming the option (the CLI shows its flag). */
export function resolvePipelineSweepOptions(
  options: Partial<PipelineSweepOptions>,
): Readonly<PipelineSweepOptions> {
  const o = { ...kDefaultPipelineSweepOptions, ...dropUndefined(options) } as PipelineSweepOptions;
  if (typeof o.data !== 'string' || o.data === '')
    throw new InvalidOptionError(
      'options.data is required: a .csv or .jsonl file, synthetic:rows=N,features=F or sample:digits',
    );
  if (!kExecutors.includes(o.executor))
    throw new InvalidOptionError(
      `options.executor must be one of ${kExecutors.join(', ')}, got ${JSON.stringify(o.executor)}`,
    );
  if (o.executor === 'bullmq' && (typeof o.redis !== 'string' || o.redis === '')) {
    throw new InvalidOptionError(
      'options.redis is required with options.executor bullmq: the URL of a Redis for the queue, e.g. options.redis redis://127.0.0.1:6379 (the sweep starts its own mlscale worker processes on this machine)',
    );
  }
  if (o.executor !== 'bullmq' && o.redis !== undefined)
    throw new InvalidOptionError(
      `options.redis applies only with options.executor bullmq, not ${o.executor}`,
    );
  if (o.redis !== undefined) parseRedisUrl(o.redis);
  if (o.batches === undefined)
    throw new InvalidOptionError(
      'options.batches is required: the data sizes to run, as numbers of batches, e.g. 10,100,1000',
    );
  const batches = parseNumberList('options.batches', o.batches, { min: 1, max: 1 << 24 });
  const workers = parseNumberList(
    'options.workers',
    o.workers ?? (o.executor === 'inline' ? [1] : [...new Set([1, availableParallelism()])]),
    { min: 1, max: 1024 },
  );
  if (o.executor === 'inline' && workers.some((w) => w !== 1)) {
    throw new InvalidOptionError(
      `options.workers must be 1 with options.executor inline (it runs every task on one thread), got ${JSON.stringify(workers.join(','))}`,
    );
  }
  if (
    o.batchSize !== undefined &&
    (typeof o.batchSize !== 'number' ||
      !Number.isInteger(o.batchSize) ||
      o.batchSize < 1 ||
      o.batchSize > 1 << 24)
  ) {
    throw new InvalidOptionError(
      `options.batchSize must be an integer from 1 to ${1 << 24}, got ${JSON.stringify(o.batchSize)}`,
    );
  }
  for (const [flag, v, max] of [
    ['options.repeats', o.repeats, 100],
    ['options.epochs', o.epochs, 100_000],
  ] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max)
      throw new InvalidOptionError(
        `${flag} must be an integer from 1 to ${max}, got ${JSON.stringify(v)}`,
      );
  }
  if (o.statistic !== 'median' && o.statistic !== 'fastest')
    throw new InvalidOptionError(
      `options.statistic must be one of median, fastest, got ${JSON.stringify(o.statistic)}`,
    );
  if (o.model !== 'linear' && o.model !== 'mlp')
    throw new InvalidOptionError(
      `options.model must be one of linear, mlp, got ${JSON.stringify(o.model)}`,
    );
  return Object.freeze({ ...o, batches, workers });
}

/**
 * Runs the pipeline sweep: every (batches, workers) pair, `repeats` times, on a fresh executor.
 *
 * @returns The sweep file's content (not yet written).
 * @throws InvalidOptionError for a bad grid, or when the data has fewer rows than the largest
 *   run needs; the data source's own coded errors for bad data.
 */
export async function sweepPipeline(
  options: Partial<PipelineSweepOptions>,
): Promise<PipelineSweep> {
  const o = resolvePipelineSweepOptions(options);
  const say = o.onProgress ?? (() => undefined);
  const probe = openSource(o.data);
  const label = o.label ?? probe.defaultLabel;
  if (label === undefined)
    throw new InvalidOptionError(
      `options.label is required for ${probe.description}: name the column to predict`,
    );
  const available = await countRows(probe, label);
  const most = Math.max(...o.batches);
  const batchSize = o.batchSize ?? Math.floor(available / most);
  if (batchSize < 1) {
    throw new InvalidOptionError(
      `options.data ${o.data} has ${available} rows, fewer than options.batches ${most}: every batch needs at least one row; list fewer batches or give more rows`,
    );
  }
  if (most * batchSize > available) {
    throw new InvalidOptionError(
      `options.batches ${most} × options.batchSize ${batchSize} needs ${most * batchSize} rows, but options.data ${o.data} has ${available}; lower options.batchSize or the largest options.batches`,
    );
  }
  const grid = cartesian({ batches: o.batches, workers: o.workers });
  say(
    `sweep pipeline: ${grid.length} run(s) × ${o.repeats} repeat(s), ${o.executor} executor, ${batchSize} rows per batch, ${o.epochs} epoch(s)`,
  );
  // bullmq: a key prefix of this sweep's own, so its jobs never meet another run's workers; the
  // keys go when the sweep ends. Redis is checked first, so a wrong URL fails in seconds.
  const prefix = o.prefix ?? `mlscale-sweep-${randomBytes(4).toString('hex')}`;
  const redis = o.redis !== undefined ? parseRedisUrl(o.redis) : undefined;
  if (redis) await probeRedis(redis);
  const points: PipelinePoint[] = [];
  try {
    const trainings = grid.map(({ workers }) =>
      resolveTrainingOptions({
        data: o.data,
        label,
        executor: o.executor,
        workers,
        batchSize,
        epochs: o.epochs,
        model: o.model,
        redis: o.redis,
        out: 'unused',
      }),
    );
    // Repeats go round the grid (every point once, then again): a slow minute of a shared machine
    // then lands on one run of several points, which the pick over each point's runs leaves out,
    // rather than on every run of one point, which would bend the line through them.
    const runs: Run[][] = grid.map(() => []);
    for (let r = 0; r < o.repeats; r++) {
      if (o.repeats > 1) say(`repeat ${r + 1}/${o.repeats}`);
      for (const [i, { batches, workers }] of grid.entries()) {
        o.signal?.throwIfAborted();
        runs[i]!.push(await timedRun(o, trainings[i]!, batches, workers, prefix));
      }
    }
    for (const [i, { batches, workers }] of grid.entries()) {
      const sorted = [...runs[i]!].sort((a, b) => a.seconds - b.seconds);
      const picked =
        o.statistic === 'fastest' ? sorted[0]! : sorted[Math.floor((sorted.length - 1) / 2)]!;
      points.push({
        batches,
        workers,
        batchSize,
        rows: batches * batchSize,
        seconds: picked.seconds,
        ...(o.repeats > 1 ? { runSeconds: runs[i]!.map((r) => r.seconds) } : {}),
        stageSeconds: picked.stageSeconds,
        taskSeconds: picked.taskSeconds,
        phases: picked.phases,
        driverSeconds: picked.driverSeconds,
        workerCaches: picked.workerCaches,
        // maxRSS (KiB) is the process's peak so far: an upper bound for this run's.
        peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      });
      const st = picked.stageSeconds;
      say(
        `[run ${i + 1}/${grid.length}] batches=${batches} workers=${workers}: ${picked.seconds.toFixed(2)} s (fit ${st['fit']!.toFixed(2)}, train ${st['train']!.toFixed(2)}, evaluate ${st['evaluate']!.toFixed(2)})${o.repeats > 1 ? `, ${statisticWords(o.statistic, o.repeats)}` : ''}`,
      );
    }
  } finally {
    if (redis) await dropKeys(redis, prefix);
  }
  return {
    kind: 'pipeline',
    schemaVersion: kSweepSchemaVersion,
    createdAt: new Date().toISOString(),
    machine: machineInfo(),
    data: o.data,
    executor: o.executor,
    label,
    epochs: o.epochs,
    model: String(o.model),
    repeats: o.repeats,
    statistic: o.statistic,
    points,
  };
}

/** One timed run: wall seconds, and seconds per phase. */
interface Run {
  readonly seconds: number;
  readonly stageSeconds: Record<string, number>;
  readonly taskSeconds: number;
  readonly phases: Record<Phase, PhaseDetail>;
  readonly driverSeconds: number;
  readonly workerCaches: boolean;
}

/**
 * One run of the pipeline on the first `batches` batches, on a fresh executor (for bullmq, with
 * `workers` fresh worker processes of one batch each), after an unrecorded warm-up on it.
 */
async function timedRun(
  o: Readonly<PipelineSweepOptions>,
  training: Readonly<TrainingOptions>,
  batches: number,
  workers: number,
  prefix: string,
): Promise<Run> {
  const processes =
    o.executor === 'bullmq'
      ? await startWorkerProcesses(o.redis!, prefix, workers, 30_000, o.launchWorker)
      : undefined;
  const executor = createExecutor(o.executor, { workers, redis: o.redis, prefix });
  try {
    // Warm-up, one batch per worker: module loading, onnxruntime start-up and thread creation are
    // paid once per process or pool, not per batch, and would otherwise inflate whichever run came
    // first (0.5 s of 0.8 s on a 2-batch run here).
    await runTraining(firstBatches(openSource(o.data), Math.min(batches, workers)), executor, {
      ...training,
      epochs: 1,
    });
    const started = performance.now();
    const loop = performance.eventLoopUtilization();
    const result = await runTraining(firstBatches(openSource(o.data), batches), executor, training);
    const seconds = (performance.now() - started) / 1000;
    const driverSeconds = performance.eventLoopUtilization(loop).active / 1000;
    const p = result.timings.phases;
    const t = result.timings.stages;
    return {
      seconds,
      taskSeconds: (t.preprocess + t.train + t.evaluate) / 1000,
      stageSeconds: { fit: p.fit / 1000, train: p.train / 1000, evaluate: p.evaluate / 1000 },
      phases: phaseDetails(result.timings),
      driverSeconds,
      workerCaches: result.cache.where === 'workers',
    };
  } finally {
    await executor.close();
    await processes?.stop();
  }
}

/** Each phase's wall, map-call and task time, from a run's timings (see PhaseDetail). */
function phaseDetails(t: RunTimings): Record<Phase, PhaseDetail> {
  const detail = (phase: Phase): PhaseDetail => {
    const windows = t.windows.filter((w) => w[0] === phase);
    const st = t.phaseStages[phase];
    return {
      seconds: t.phases[phase] / 1000,
      mapSeconds: windows.reduce((sum, w) => sum + w[2], 0) / 1000,
      taskSeconds: (st.preprocess + st.train + st.evaluate) / 1000,
      ...(st.read !== undefined ? { readSeconds: st.read / 1000 } : {}),
      tasks: windows.reduce((sum, w) => sum + w[3], 0),
      maps: windows.length,
      widestMap: windows.reduce((most, w) => Math.max(most, w[3]), 0),
    };
  };
  return { fit: detail('fit'), train: detail('train'), evaluate: detail('evaluate') };
}

/** Deletes every key under `prefix` (a finished bullmq sweep's queue and jobs). */
async function dropKeys(target: RedisTarget, prefix: string): Promise<void> {
  const client = payloadClient(target, 'mlscale-sweep-cleanup');
  try {
    await deleteKeysUnder(client, prefix);
  } catch {
    // Left-over keys are harmless (completed jobs expire); a Redis gone now must not fail the sweep.
  } finally {
    client.disconnect();
  }
}

/** Rows in a source: by arithmetic for random-access sources, else by reading it once. */
async function countRows(source: DataSource, label: string): Promise<number> {
  const options: BatchOptions = { batchRows: 1, onBadRow: 'error' };
  if (source.randomAccess) return source.randomAccess.batchCount(options);
  const schema = await source.inferSchema({ label });
  let rows = 0;
  for await (const batch of source.batches(schema, { batchRows: 65_536, onBadRow: 'error' }))
    rows += batch.rowCount;
  return rows;
}

/**
 * The first `count` batches of `source`, and nothing after. Its description is the source's, so a
 * worker that reopens it by description builds the same batches (it is only asked for ids below
 * `count`).
 */
export function firstBatches(source: DataSource, count: number): DataSource {
  const inner = source.randomAccess;
  const randomAccess: RandomAccess | undefined = inner && {
    batchCount: (options) => Math.min(count, inner.batchCount(options)),
    readBatch: (schema, id, options) => inner.readBatch(schema, id, options),
  };
  return {
    ...(randomAccess ? { randomAccess } : {}),
    description: source.description,
    ...(source.defaultLabel !== undefined ? { defaultLabel: source.defaultLabel } : {}),
    inferSchema: (options) => source.inferSchema(options),
    async *batches(schema: Schema, options: BatchOptions) {
      if (count <= 0) return;
      let n = 0;
      for await (const batch of source.batches(schema, options)) {
        yield batch;
        if (++n >= count) return;
      }
    },
  };
}
