/**
 * The one-screen summary printed at the end of `mlscale train`, and its `--json` form.
 *
 * @module
 */
import { METADATA_FILE, MODEL_FILE } from '../model/artifact.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainedModel } from '../pipeline/train-model.js';

const n = (v: number) => v.toLocaleString('en-US');
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const f = (v: number, digits = 4) => (Number.isFinite(v) ? v.toFixed(digits) : String(v));
const pct = (v: number) => `${Math.round(v * 100)}%`;
const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

/** A machine-readable summary (`--json`). */
export function summaryJson(t: TrainedModel): Record<string, unknown> {
  const r = t.result;
  return {
    artifact: t.artifact,
    model: join(t.artifact, MODEL_FILE),
    metrics: r.metrics,
    customMetrics: r.customMetrics,
    data: r.data,
    executor: t.metadata.executor,
    training: { ...r.training, rounds: r.rounds, epochLoss: r.epochLoss },
    cache: r.cache,
    timings: { ...r.timings, exportMs: t.exportMs },
    throughput: throughput(t),
    // Peak resident memory of the whole process (worker threads included), for the streaming check.
    memory: { maxRssBytes: peakRssBytes() },
  };
}

/**
 * Peak resident memory of this process. On Linux, `VmHWM` from /proc/self/status: getrusage's
 * maxrss survives exec, so a process started by a large parent would report the parent's peak.
 */
function peakRssBytes(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]) * 1024;
  } catch {
    // Not Linux: getrusage's figure.
  }
  return process.resourceUsage().maxRSS * 1024;
}

function throughput(t: TrainedModel) {
  const r = t.result;
  const trainSeconds = r.timings.phases.train / 1000;
  const epochs = r.training.epochs;
  const batches = r.data.batches * epochs;
  return {
    trainBatchesPerSecond: trainSeconds > 0 ? batches / trainSeconds : NaN,
    trainRowsPerSecond: trainSeconds > 0 ? (r.data.trainRows * epochs) / trainSeconds : NaN,
  };
}

/** The human summary, a few lines. */
export function summaryText(t: TrainedModel): string {
  const r = t.result;
  const o = t.options;
  const m = r.metrics;
  const exec = t.metadata.executor as { kind: string; workers: number; slots?: number };
  const workers =
    exec.kind === 'inline'
      ? ''
      : exec.slots === undefined
        ? ` × ${exec.workers} workers`
        : ` × ${exec.workers} worker process${exec.workers === 1 ? '' : 'es'} that ran batches (${exec.slots} slots planned, --workers)`;
  const model =
    r.spec.family === 'mlp'
      ? `mlp ${[r.spec.inputs, ...r.spec.hidden, r.spec.outputs].join('-')} (${r.spec.activation})`
      : `linear ${r.spec.inputs}-${r.spec.outputs}`;
  const metrics =
    m.task === 'classification'
      ? `accuracy ${f(m.accuracy)}  macro-F1 ${f(m.macroF1)}  log-loss ${f(m.logLoss)}`
      : `RMSE ${f(m.rmse)}  R² ${f(m.r2)}`;
  const custom = r.customMetrics
    ? Object.entries(r.customMetrics)
        .map(([k, v]) => `${k} ${f(v)}`)
        .join('  ')
    : undefined;
  const tp = throughput(t);
  const { phases, stages, stageWall: wall } = r.timings;
  const taskMs = stages.preprocess + stages.train + stages.evaluate;
  const inStagesMs = wall.preprocess + wall.train + wall.evaluate;
  const parallelism = inStagesMs > 0 ? (taskMs / inStagesMs).toFixed(1) : '0';
  const tr = r.training;
  const epochs =
    tr.asked !== 'auto'
      ? `${tr.epochs} epochs`
      : tr.selectionEpochs !== undefined
        ? `${tr.epochs} (auto: ${tr.selectionEpochs} epochs on ${pct(1 - tr.validationFraction!)} of the training rows chose ${tr.epochs}, stopping because ${tr.stopReason}; then the model was refit on every training row)`
        : `${tr.epochs} (auto: stopped because ${tr.stopReason}; weights of epoch ${tr.bestEpoch})`;
  const categories = r.data.categories
    .map((c) => `${c.name} (${n(c.distinct)}${c.kept < c.distinct ? `, ${n(c.kept)} kept` : ''})`)
    .join(', ');
  const epochTimes = r.timings.epochs;
  const cache =
    r.cache.mode === 'none'
      ? 'none: every pass parses the data'
      : `${r.cache.reused ? 'reused from ' + (r.cache.dir ?? 'disk') : r.cache.mode}; ` +
        (r.cache.where === 'workers' && r.cache.totalBytes === 0
          ? 'each worker process keeps the batches it parsed on its own disk'
          : `${mb(r.cache.memoryBytes)} in memory, ${mb(r.cache.totalBytes - r.cache.memoryBytes)} on disk`) +
        (epochTimes.length > 1
          ? `; first pass (fit) ${s(phases.fit)}, epochs ${s(epochTimes[0]!)} then ${s(median(epochTimes.slice(1)))} (median)`
          : '');
  const lines = [
    `mlscale train: ${r.data.source}`,
    `  task        ${r.spec.task}${m.task === 'classification' ? `, ${r.spec.outputs} classes` : ''}; ${model}; ${o.optimizer} lr ${o.learningRate}, minibatch ${o.minibatch}`,
    `  epochs      ${epochs}`,
    `  data        ${n(r.data.rows)} rows (${n(r.data.trainRows)} train, ${n(r.data.heldOutRows)} held out), ${n(r.data.skippedRows)} skipped; ${n(r.data.batches)} batches of up to ${n(o.batchSize)} rows`,
    ...(categories ? [`  categorical ${categories}`] : []),
    `  cache       ${cache}`,
    `  executor    ${exec.kind}${workers}; ${r.rounds} rounds of ${o.syncEvery} batches`,
    `  metrics     ${metrics}  (${n(m.rows)} held-out rows)`,
    ...(custom ? [`  custom      ${custom}`] : []),
    `  time        ${s(r.timings.total + t.exportMs)}: fit ${s(phases.fit)}, train ${s(phases.train)}, evaluate ${s(phases.evaluate)}, export ${s(t.exportMs)}`,
    `  stage wall  preprocess ${s(wall.preprocess)}, train ${s(wall.train)}, evaluate ${s(wall.evaluate)}, driver and waiting ${s(wall.other)} (the run's wall time by stage)`,
    `  task time   preprocess ${s(stages.preprocess)}, train ${s(stages.train)}, evaluate ${s(stages.evaluate)} (summed over tasks: ${parallelism} at once on average)`,
    `  throughput  ${f(tp.trainBatchesPerSecond, 1)} batches/s, ${n(Math.round(tp.trainRowsPerSecond))} rows/s in training`,
    `  model       ${join(t.artifact, MODEL_FILE)} (+ ${METADATA_FILE})`,
  ];
  return lines.join('\n');
}
