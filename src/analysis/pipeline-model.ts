/**
 * The time of a pipeline run with k workers, predicted from the run with one, phase by phase. A
 * run with one worker (`PipelinePoint.phases`, `driverSeconds`) says where its time went:
 *
 * - between map calls the driver works alone (merging statistics, averaging weights, saving
 *   checkpoints): serial, whatever the workers;
 * - inside a map call each task costs `c` = map time ÷ tasks: the task's own work plus what it
 *   costs to hand it over (encoding, Redis round trips, the worker picking it up, the result
 *   coming back). Of `c`, the driver's share (its busy time inside map calls, per task) is done
 *   by one thread and stays serial; the rest runs on a worker and overlaps across workers;
 * - a map call of b tasks on k workers takes ⌈b/k⌉ tasks' time: a training round hands out
 *   `syncEvery` batches (4: k = 3 workers take two turns a round, as k = 2 do), fit and evaluate
 *   windows `passWindow(k)` batches;
 * - a remote worker caches the batches it ran: past the first pass, a task lands on the worker
 *   holding its batch with chance 1/k, and otherwise builds it again, as the first pass did (its
 *   tasks' `read` time, per task);
 * - workers that share a machine (threads) share its CPUs with the driver: past the cores every
 *   task slows in proportion, and `parallelSpeedup` (what k busy threads get here against one,
 *   e.g. 1.3 for two hyperthreads of one core) caps them further. Workers on hosts of their own
 *   (bullmq, one per host) each have the capacity the one measured had.
 *
 * A per-worker dispatch term and the rounds' widths are what the simpler T_k = D + W/k missed:
 * it counted every task's hand-over as serial (so underestimated hosts), took rounds of 4 to
 * spread over any number of workers, and missed the cache misses that more workers bring. What
 * this one does not see either: on simulated hosts sharing two cores, a host's CPU per batch
 * grows with the number of hosts (BENCHMARKS.md), which single runs showed as an overestimate
 * of 8–18% at 2 hosts; medians of runs taken in turn came out at −8% and +10% (`kModelError`).
 *
 * @module
 */
import { passWindow } from '../pipeline/batch-stream.js';
import type { PhaseDetail, PipelinePoint } from './sweep-schema.js';

/** Where the predicted run is to run. */
export interface WorkerPlan {
  readonly workers: number;
  /**
   * CPUs the workers and the driver share (threads on one machine); absent when each worker has
   * capacity of its own (one per host), as the measured worker had.
   */
  readonly sharedCpus?: number;
  /** What `workers` busy threads get on the shared CPUs against one (a measured ceiling); absent: no cap. */
  readonly parallelSpeedup?: number;
}

/** A predicted run, with its parts (s). */
export interface PipelineForecast {
  readonly seconds: number;
  readonly rowsPerSecond: number;
  /** The driver's serial time: between map calls, and its share of every task. */
  readonly serialSeconds: number;
  /** The workers' time: map calls less the driver's share of them. */
  readonly parallelSeconds: number;
  /** Each task's slow-down from sharing the CPUs (1 on hosts of their own). */
  readonly slowdown: number;
  readonly basis: string;
}

const kPhases = ['fit', 'train', 'evaluate'] as const;

/** Turns a map call of `width` tasks takes on k workers, over `tasks` tasks in such calls. */
export function turns(tasks: number, width: number, k: number): number {
  if (tasks <= 0 || width <= 0) return 0;
  const full = Math.floor(tasks / width);
  const rest = tasks - full * width;
  return full * Math.ceil(width / k) + Math.ceil(rest / k);
}

/** The batches per map call of a phase at k workers (see the module's comment). */
function widthAt(phase: (typeof kPhases)[number], d: PhaseDetail, k: number): number {
  return phase === 'train' ? d.widestMap : Math.min(d.tasks, passWindow(k));
}

/**
 * The run of `one` (one worker, with its phases) predicted at `plan.workers` workers; undefined
 * when `one` lacks what the model needs (files written before phases were recorded).
 */
export function forecastPipeline(
  one: PipelinePoint,
  plan: WorkerPlan,
): PipelineForecast | undefined {
  const phases = one.phases;
  if (!phases || one.workers !== 1) return undefined;
  const k = plan.workers;
  const tasks = kPhases.reduce((n, p) => n + phases[p].tasks, 0);
  if (tasks === 0) return undefined;
  const between = kPhases.reduce(
    (s, p) => s + Math.max(0, phases[p].seconds - phases[p].mapSeconds),
    0,
  );
  // The driver's busy time inside map calls, per task: serial however many workers there are.
  const driverPerTask = Math.max(0, (one.driverSeconds ?? between) - between) / tasks;
  const serial = between + tasks * driverPerTask;
  // A remote worker's cache holds the batches that worker ran: after the first pass a task finds
  // its batch there with chance 1/k, and otherwise builds it again, at the first pass's cost.
  const fit = phases.fit;
  const missRead =
    one.workerCaches === true && fit.readSeconds !== undefined && fit.tasks > 0
      ? fit.readSeconds / fit.tasks
      : undefined;
  let rebuild = 0;
  let parallel = 0;
  for (const p of kPhases) {
    const d = phases[p];
    if (d.tasks === 0) continue;
    let own = Math.max(0, d.mapSeconds / d.tasks - driverPerTask);
    if (p !== 'fit' && missRead !== undefined && d.readSeconds !== undefined) {
      const extra = (1 - 1 / k) * Math.max(0, missRead - d.readSeconds / d.tasks);
      own += extra;
      rebuild += extra * d.tasks;
    }
    parallel += turns(d.tasks, widthAt(p, d, k), k) * own;
  }
  // Sharing CPUs: k busy workers and the driver's busy share of the run against the cores, and
  // the machine's measured ceiling for k threads; twice, as the driver's share depends on the time.
  let slowdown = 1;
  if (plan.sharedCpus !== undefined) {
    for (let i = 0; i < 2; i++) {
      const driverShare = serial / (serial + parallel * slowdown);
      const byCores = (k + driverShare) / plan.sharedCpus;
      const byCeiling = plan.parallelSpeedup !== undefined ? k / plan.parallelSpeedup : 1;
      slowdown = Math.max(1, byCores, byCeiling);
    }
  }
  const seconds = serial + parallel * slowdown;
  return {
    seconds,
    rowsPerSecond: one.rows / seconds,
    serialSeconds: serial,
    parallelSeconds: parallel * slowdown,
    slowdown,
    basis: `one worker's run by phase: driver ${serial.toFixed(2)} s serial (${between.toFixed(2)} s between map calls, ${(driverPerTask * 1000).toFixed(2)} ms per task), tasks in turns of ⌈batches per call ÷ ${k}⌉${rebuild > 0 ? `, ${rebuild.toFixed(2)} s of task time rebuilding batches not in the worker's cache` : ''}${slowdown > 1 ? `, each ${slowdown.toFixed(2)}x slower on ${plan.sharedCpus} shared CPUs` : ''}`,
  };
}
