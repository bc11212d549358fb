/**
 * `mlscale train`: parse and validate flags, run `trainModel`, print a summary.
 *
 * @module
 */
import { availableParallelism, totalmem } from 'node:os';
import type { Task } from '../data/types.js';
import type { TrainingOptions } from '../pipeline/options.js';
import { kDefaultTrainingOptions } from '../pipeline/options.js';
import { trainModel } from '../pipeline/train-model.js';
import {
  numberFlag,
  numberListFlag,
  parseFlags,
  sizeFlag,
  textFlag,
  textListFlag,
  type FlagSpec,
} from './args.js';
import { BullmqExecutor } from '../pipeline/executors/bullmq/bullmq-executor.js';
import { createProgressView, type ProgressView } from './progress.js';
import { summaryJson, summaryText } from './summary.js';
import { InvalidOptionError } from '../errors.js';
import { kVariantKinds, type VariantKind } from '../model/optimize/options.js';
import { optimizeModel, type OptimizeReport } from '../model/optimize/optimize.js';
import { optimizeJson, optimizeText } from './optimize-table.js';

const d = kDefaultTrainingOptions;

/** `mlscale train --help`. */
export const trainHelp = `Usage: mlscale train --data SOURCE [--label COLUMN] [--out DIR] [options]

Reads a dataset, cuts it into batches and runs, for every batch, preprocess -> train -> evaluate,
then aggregates the results. Writes DIR/model.onnx (preprocessing included: it takes raw rows)
and DIR/metadata.json.

Data
  --data SOURCE          a .csv or .jsonl file (or .csv.gz, .jsonl.gz) or http(s):// URL,
                         synthetic:rows=N,features=F,classes=C,seed=S, or sample:digits  [${d.data}]
  --label COLUMN         the column to predict (synthetic and sample data know theirs)
  --task KIND            classification | regression (default: inferred from the label)
  --na-values LIST       text read as a missing value, comma-separated, besides the empty
                         field  [pandas' list: NA, N/A, NaN, nan, NULL, null, None, #N/A, <NA>, ...]
  --categorical COLS     columns to treat as categorical whatever their values (comma-separated)
  --numeric COLS         columns to treat as numeric: their non-numbers are bad values
                         (by default a column is numeric when 99% of its sampled values are numbers)
  --holdout FRACTION     rows held out for evaluation, chosen by row hash  [${d.holdout}]
  --on-bad-row POLICY    error | skip (skip counts bad rows in the summary)  [${d.onBadRow}]
  --max-categories N     categories kept per categorical column  [${d.maxCategories}]
Execution
  --executor KIND        inline (one thread, sequential) | threads (worker pool) |
                         bullmq (batches as jobs on Redis, run by 'mlscale worker' processes)  [${d.executor}]
  --workers N            worker threads for 'threads'; for 'bullmq', the worker slots to keep
                         busy (batches in flight per window)  [CPU count: ${availableParallelism()}]
  --redis URL            bullmq: the queue's Redis, redis://host:6379 or rediss:// (TLS)
  --redis-ca FILE        bullmq: PEM file of the CA that signed a rediss:// Redis's certificate
  --prefix NAME          bullmq: Redis key prefix, the same as the workers'  [mlscale]
  --resume RUN           bullmq: continue an interrupted run (its id is printed at the start)
                         from its last completed round; give the same flags as the first time
  --attempts N           bullmq: attempts per batch before the run fails  [3]
  --keep-failed-hours H  bullmq: how long failed jobs stay in Redis for inspection  [168]
  --ship-rows            bullmq: send CSV/JSONL batches as rows; by default a file named by
                         absolute path is taken to be readable at that path by every worker,
                         which then reads its batches' byte ranges itself
  --batch-size ROWS      pipeline batch: rows per task handed to the executor  [${d.batchSize}]
  --sync-every K         batches trained from the same weights per averaging round  [${d.syncEvery}]
  --stages FILE          a module with your own preprocess/evaluate/aggregate stages
  --cache MODE           the batch cache: the first pass stores each parsed batch and later
                         passes read it instead of the text. auto (memory within --cache-memory,
                         then disk) | disk | none (parse on every pass)  [${d.cache}]
  --cache-memory SIZE    memory for cached batches, e.g. 2G, 512M, 25%  [30% of RAM: ${(d.cacheMemory / 1024 ** 3).toFixed(1)} GiB]
  --cache-dir DIR        cache files there (default: a temporary folder, removed at the end);
                         a folder you name is kept, and later runs on the same data reuse it
Model and training
  --model FAMILY         linear | mlp  [${d.model}]
  --hidden WIDTHS        mlp hidden layers, e.g. 64,32  [${d.hidden.join(',')}]
  --activation FN        relu | tanh  [${d.activation}]
  --epochs N|auto        passes over the data; auto stops early on a validation slice of the
                         training rows (10%), halving the learning rate on a plateau, and keeps
                         the best epoch's weights  [${d.epochs}]
  --minibatch ROWS       optimiser mini-batch inside a task  [${d.minibatch}]
  --optimizer KIND       adam | sgd (with momentum)  [${d.optimizer}]
  --learning-rate LR     [${d.learningRate}]
  --momentum M           for sgd  [${d.momentum}]
  --l2 PENALTY           L2 weight penalty  [${d.l2}]
  --seed N               seeds initialisation, shuffles and the split  [${d.seed}]
Output
  --out DIR              artifact folder, replaced atomically  [${d.out}]
  --optimize LIST        also write optimised variants beside model.onnx: int8, fp16, graph
                         (comma-separated), e.g. DIR/model.int8.onnx, each measured against the
                         model on this machine and scored on the held-out rows, and written only
                         if it is not slower and loses at most 0.5 point of accuracy (see
                         'mlscale optimize --help'); serve one with 'mlscale serve --model DIR --variant int8'
  --json                 print a machine-readable summary instead of text
  -h, --help             this help

The same data, seed and settings give a bitwise-identical model.onnx on every executor and
worker count.`;

const flags: FlagSpec = {
  data: { type: 'string' },
  label: { type: 'string' },
  task: { type: 'string' },
  out: { type: 'string' },
  executor: { type: 'string' },
  workers: { type: 'string' },
  'batch-size': { type: 'string' },
  'sync-every': { type: 'string' },
  epochs: { type: 'string' },
  minibatch: { type: 'string' },
  model: { type: 'string' },
  hidden: { type: 'string' },
  activation: { type: 'string' },
  optimizer: { type: 'string' },
  'learning-rate': { type: 'string' },
  momentum: { type: 'string' },
  l2: { type: 'string' },
  seed: { type: 'string' },
  holdout: { type: 'string' },
  'max-categories': { type: 'string' },
  'on-bad-row': { type: 'string' },
  stages: { type: 'string' },
  redis: { type: 'string' },
  prefix: { type: 'string' },
  resume: { type: 'string' },
  attempts: { type: 'string' },
  'keep-failed-hours': { type: 'string' },
  'ship-rows': { type: 'boolean' },
  'na-values': { type: 'string' },
  categorical: { type: 'string' },
  numeric: { type: 'string' },
  cache: { type: 'string' },
  'cache-memory': { type: 'string' },
  'cache-dir': { type: 'string' },
  'redis-ca': { type: 'string' },
  optimize: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** Turns train flags into `TrainingOptions` (validated later, in one place). */
export function trainOptionsFromArgv(argv: string[]): {
  options: Partial<TrainingOptions>;
  json: boolean;
  help: boolean;
  optimize: VariantKind[];
} {
  const v = parseFlags('train', argv, flags);
  const options: Partial<TrainingOptions> = {
    data: textFlag(v.data),
    label: textFlag(v.label),
    task: textFlag(v.task) as Task | undefined,
    out: textFlag(v.out),
    executor: textFlag(v.executor) as TrainingOptions['executor'] | undefined,
    workers: numberFlag(v.workers),
    batchSize: numberFlag(v['batch-size']),
    syncEvery: numberFlag(v['sync-every']),
    epochs: v.epochs === 'auto' ? 'auto' : numberFlag(v.epochs),
    minibatch: numberFlag(v.minibatch),
    model: textFlag(v.model) as TrainingOptions['model'] | undefined,
    hidden: numberListFlag(v.hidden),
    activation: textFlag(v.activation) as TrainingOptions['activation'] | undefined,
    optimizer: textFlag(v.optimizer) as TrainingOptions['optimizer'] | undefined,
    learningRate: numberFlag(v['learning-rate']),
    momentum: numberFlag(v.momentum),
    l2: numberFlag(v.l2),
    seed: numberFlag(v.seed),
    holdout: numberFlag(v.holdout),
    maxCategories: numberFlag(v['max-categories']),
    onBadRow: textFlag(v['on-bad-row']) as TrainingOptions['onBadRow'] | undefined,
    stages: textFlag(v.stages),
    redis: textFlag(v.redis),
    prefix: textFlag(v.prefix),
    resume: textFlag(v.resume),
    attempts: numberFlag(v.attempts),
    keepFailedHours: numberFlag(v['keep-failed-hours']),
    shipRows: v['ship-rows'] === true ? true : undefined,
    redisCa: textFlag(v['redis-ca']),
    naValues: textListFlag(v['na-values']),
    categorical: textListFlag(v.categorical),
    numeric: textListFlag(v.numeric),
    cache: textFlag(v.cache) as TrainingOptions['cache'] | undefined,
    cacheMemory: sizeFlag(v['cache-memory'], totalmem()),
    cacheDir: textFlag(v['cache-dir']),
  };
  return {
    options,
    json: v.json === true,
    help: v.help === true,
    optimize: optimizeFlag(v.optimize),
  };
}

/** `--optimize int8,fp16`: checked before training starts, so a typo does not cost a training run. */
function optimizeFlag(value: string | boolean | undefined): VariantKind[] {
  if (value === undefined || typeof value === 'boolean') return [];
  const kinds = value.split(',').map((k) => k.trim());
  const bad = kinds.find((k) => !(kVariantKinds as readonly string[]).includes(k));
  if (bad !== undefined || kinds.length === 0) {
    throw new InvalidOptionError(
      `--optimize must be a comma-separated list of ${kVariantKinds.join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return [...new Set(kinds)] as VariantKind[];
}

/** Runs `mlscale train`; resolves with the exit code. */
export async function trainCommand(
  argv: string[],
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const { options, json, help, optimize } = trainOptionsFromArgv(argv);
  if (help) {
    out.write(trainHelp + '\n');
    return 0;
  }
  const view = json ? { update() {}, note() {}, stop() {} } : createProgressView();
  try {
    const trained = await trainModel(options, {
      onProgress: (p) => view.update(p),
      onExecutor: (executor) => {
        if (executor instanceof BullmqExecutor) {
          // Said once the run is in Redis: before that, there is nothing to resume.
          executor.onRunRecorded(() =>
            process.stderr.write(
              `mlscale train: ${executor.kind} run ${executor.run} (after an interruption: --resume ${executor.run})\n`,
            ),
          );
          watchWorkers(executor, view);
        }
      },
    });
    view.stop();
    let optimized: OptimizeReport | undefined;
    if (optimize.length > 0) {
      // Scored on the held-out rows of this very run: the artifact's metadata names its data split.
      optimized = await optimizeModel(
        {
          model: trained.artifact,
          variants: optimize,
          data: trained.options.data,
          label: trained.options.label,
        },
        {
          onProgress: json
            ? undefined
            : (line) => process.stderr.write(`mlscale train --optimize: ${line}\n`),
        },
      );
    }
    if (json)
      out.write(
        JSON.stringify(
          { ...summaryJson(trained), ...(optimized ? { optimize: optimizeJson(optimized) } : {}) },
          null,
          2,
        ) + '\n',
      );
    else
      out.write(
        summaryText(trained) + '\n' + (optimized ? '\n' + optimizeText(optimized) + '\n' : ''),
      );
    return 0;
  } finally {
    view.stop();
  }
}

/**
 * Shows the distributed run's activity beside the progress bar (batches done by all workers,
 * workers connected, retries, failures) and says plainly when no worker is connected, since the
 * run then waits.
 */
function watchWorkers(executor: BullmqExecutor, view: ProgressView): void {
  let warned = false;
  executor.setActivityListener((a) => {
    const workers =
      a.workers < 0 ? '? workers' : `${a.workers} worker${a.workers === 1 ? '' : 's'}`;
    view.note(
      `${workers} | ${a.completed} jobs done | ${a.retried + a.stalled} retried | ${a.failed} failed`,
    );
    if (a.workers === 0 && !warned) {
      warned = true;
      process.stderr.write(
        'mlscale train: no mlscale worker is connected to this Redis and prefix yet; batches wait in the queue until one starts\n',
      );
    }
    if (a.workers > 0) warned = false;
  });
}
