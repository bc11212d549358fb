/**
 * Pipeline runs for `mlscale dashboard`: the finished runs of a local runs folder (each
 * `<runs>/<name>/metadata.json` written by `mlscale train --out <runs>/<name>`), summarised for
 * the list and in full for a run's page.
 *
 * @module
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { METADATA_FILE } from '../model/artifact.js';

/** A run in the list. */
export interface RunSummary {
  readonly id: string;
  readonly source: 'local' | 'redis';
  readonly status: 'done' | 'running';
  readonly executor: string;
  readonly workers: number | null;
  readonly createdAt: string | null;
  readonly rows: number | null;
  readonly batches: number | null;
  readonly epochs: number | null;
  readonly totalMs: number | null;
  /** The main metric: accuracy for classification, r2 or rmse for regression. */
  readonly metric: { readonly name: string; readonly value: number } | null;
  /**
   * Progress of a running run: its phase (fit, train, evaluate), batches done in the phase and in
   * the whole run, and their totals when known (null before the fit pass has counted the batches).
   */
  readonly progress?: {
    readonly phase: string | null;
    readonly done: number;
    readonly total: number | null;
    readonly runDone: number;
    readonly runTotal: number | null;
    readonly epoch: number;
    readonly rounds: number;
  };
  /** Workers connected to the queue (bullmq), retries and failures so far. */
  readonly workersConnected?: number;
  readonly retried?: number;
  readonly failed?: number;
}

/** A run's page: the summary, with metrics, phase and stage times, and time per batch over the run. */
export interface RunDetail extends RunSummary {
  readonly metrics: Record<string, unknown>;
  readonly customMetrics?: Record<string, number>;
  readonly phases: Record<string, number> | null;
  readonly stages: Record<string, number> | null;
  /** `[phase, start ms, wall ms, batches]` per window of batches (see pipeline/window-timings.ts). */
  readonly windows: readonly [string, number, number, number][];
  readonly epochLoss: readonly number[];
  readonly data: Record<string, unknown> | null;
}

/** A run id as it may appear in a URL: a plain folder name. */
export const kRunId = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** The finished runs in `dir`, newest first; folders without a readable metadata.json are left out. */
export async function listLocalRuns(dir: string): Promise<RunSummary[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const runs: RunSummary[] = [];
  for (const name of names) {
    const detail = await readLocalRun(dir, name);
    if (detail) runs.push(summaryOf(detail));
  }
  return runs.sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
}

/** A finished run's detail, or undefined when there is no such run. */
export async function readLocalRun(dir: string, id: string): Promise<RunDetail | undefined> {
  if (!kRunId.test(id)) return undefined;
  const path = join(dir, id, METADATA_FILE);
  let m: Record<string, any>;
  try {
    if (!(await stat(path)).isFile()) return undefined;
    m = JSON.parse(await readFile(path, 'utf8')) as Record<string, any>;
  } catch {
    return undefined;
  }
  if (m === null || typeof m !== 'object') return undefined;
  const metrics = (m['metrics'] ?? {}) as Record<string, unknown>;
  const timings = (m['timings'] ?? {}) as Record<string, any>;
  const data = (m['data'] ?? null) as Record<string, any> | null;
  const training = (m['training'] ?? {}) as Record<string, any>;
  return {
    id,
    source: 'local',
    status: 'done',
    executor: String(m['executor']?.kind ?? 'unknown'),
    workers: numberOrNull(m['executor']?.workers),
    createdAt: typeof m['createdAt'] === 'string' ? m['createdAt'] : null,
    rows: numberOrNull(data?.['rows']),
    batches: numberOrNull(data?.['batches']),
    epochs: numberOrNull(training['epochs']),
    totalMs: numberOrNull(timings['total']),
    metric: mainMetric(metrics),
    metrics,
    ...(m['customMetrics'] ? { customMetrics: m['customMetrics'] as Record<string, number> } : {}),
    phases: (timings['phases'] ?? null) as Record<string, number> | null,
    stages: (timings['stages'] ?? null) as Record<string, number> | null,
    windows: Array.isArray(timings['windows'])
      ? (timings['windows'] as [string, number, number, number][])
      : [],
    epochLoss: Array.isArray(training['epochLoss']) ? (training['epochLoss'] as number[]) : [],
    data,
  };
}

/** The list's view of a run. */
export function summaryOf(d: RunDetail): RunSummary {
  const {
    metrics: _m,
    customMetrics: _c,
    phases: _p,
    stages: _s,
    windows: _w,
    epochLoss: _e,
    data: _d,
    ...summary
  } = d;
  return summary;
}

/** Accuracy for classification; r2, else rmse, for regression. */
export function mainMetric(metrics: Record<string, unknown>): RunSummary['metric'] {
  for (const name of ['accuracy', 'r2', 'rmse', 'mae']) {
    const v = metrics[name];
    if (typeof v === 'number' && Number.isFinite(v)) return { name, value: v };
  }
  return null;
}

function numberOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
