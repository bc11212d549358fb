/**
 * Time per batch over a run, for the pipeline dashboard: every `map` call the driver makes (a fit
 * or evaluate window, a training round) is timed, with its phase and batch count. The executor is
 * wrapped rather than the driver's loops edited, so every phase is recorded the same way.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import { inSpan } from '../telemetry/pipeline-tracing.js';
import type { Executor, TaskCall, TaskRef } from './executors/executor.js';

/** One map call: `[phase, start (ms since the run started), wall time (ms), batches]`. */
export type WindowTiming = [
  phase: 'fit' | 'train' | 'evaluate',
  startMs: number,
  ms: number,
  batches: number,
];

/** At most this many windows are kept; past it, neighbours of the same phase merge (half the detail). */
const kMaxWindows = 2_000;

// Validation passes decide when training stops: they are part of the training phase.
const kPhaseOfTask: Record<string, WindowTiming[0]> = {
  statsTask: 'fit',
  trainTask: 'train',
  validateTask: 'train',
  gramTask: 'train',
  compareTask: 'train',
  evaluateTask: 'evaluate',
};

/**
 * An executor that forwards everything to `executor` and appends each map call's timing to `into`.
 *
 * @param started - `performance.now()` at the start of the run.
 */
export function recordWindows(executor: Executor, into: WindowTiming[], started: number): Executor {
  const map = async <I, O>(task: TaskRef, calls: readonly TaskCall<I>[]): Promise<O[]> => {
    const t0 = performance.now();
    const phase = kPhaseOfTask[task.name];
    // A span per window when tracing is on (its BullMQ jobs are its children); else a plain call.
    const out = await inSpan(
      task.name === 'trainTask' ? 'train round' : `${phase ?? 'task'} window`,
      {
        'mlscale.phase': phase ?? 'other',
        'mlscale.task': task.name,
        'mlscale.batches': calls.length,
      },
      () => executor.map<I, O>(task, calls),
    );
    if (phase !== undefined && calls.length > 0) {
      into.push([phase, round(t0 - started), round(performance.now() - t0), calls.length]);
      if (into.length > kMaxWindows) thin(into);
    }
    return out;
  };
  // A Proxy, so that getters and private fields keep working on the real executor.
  return new Proxy(executor, {
    get(target, prop) {
      if (prop === 'map') return map;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}

/** Merges neighbouring windows of the same phase in pairs: sums of time and batches, first start. */
function thin(windows: WindowTiming[]): void {
  const out: WindowTiming[] = [];
  for (let i = 0; i < windows.length; i++) {
    const a = windows[i]!;
    const b = windows[i + 1];
    if (b && b[0] === a[0]) {
      out.push([a[0], a[1], round(a[2] + b[2]), a[3] + b[3]]);
      i++;
    } else out.push(a);
  }
  windows.splice(0, windows.length, ...out);
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
