/**
 * One recommendation per analysed sweep: the lever, taken only from those that act on the
 * bottleneck found (bottleneck.ts), the next configuration to run, and what it is predicted to
 * give, with its interval (prediction.ts) — the prediction `mlscale advise --verify` measures.
 *
 * @module
 */
import type { PipelineAnalysis } from './analyse-pipeline.js';
import type { ServeAnalysis } from './analyse-serve.js';
import { diagnose, serialParts, type Bottleneck, type Lever } from './bottleneck.js';
import {
  kMeasurementNoise,
  predictAmdahl,
  predictFromModel,
  predictMachines,
  predictScaled,
  type Prediction,
} from './prediction.js';
import { forecastPipeline } from './pipeline-model.js';
import { units } from './scaling.js';
import type { ServeConfig } from './sweep-schema.js';

/** The configuration a recommendation says to run next: what --verify measures. */
export type NextConfig =
  | {
      readonly scope: 'pipeline';
      readonly executor: 'inline' | 'threads' | 'bullmq';
      /** Workers per machine. */
      readonly workers: number;
      readonly batchSize: number;
      readonly batches: number;
      readonly machines: number;
    }
  | { readonly scope: 'serve'; readonly config: ServeConfig; readonly machines: number };

/** One recommendation: the lever for one sweep, and why (with the numbers). */
export interface Recommendation {
  readonly scope: 'serve' | 'pipeline';
  /** The sweep it is about, in words. */
  readonly source: string;
  readonly lever: Lever;
  /** The lever after this one, from the same bottleneck's list. */
  readonly then?: Lever;
  readonly text: string;
  /** What limits throughput, where, and the levers that act on it. */
  readonly bottleneck: Bottleneck;
  /** The configuration to run next, when the lever has one. */
  readonly next?: NextConfig;
  /** What that configuration is predicted to give, with its interval. */
  readonly prediction?: Prediction;
}

/** The recommendation for one analysed sweep. */
export function recommend(a: ServeAnalysis | PipelineAnalysis): Recommendation {
  const bottleneck = diagnose(a);
  const [lever, then] = bottleneck.levers as [Lever, Lever | undefined];
  const pick = (re: RegExp) => a.statements.find((s) => re.test(s));
  let text: string;
  if (bottleneck.kind === 'generator')
    text = pick(/^Caution: \d+ of the \d+ load points/) ?? bottleneck.text;
  else if (lever === 'optimize' && a.kind === 'serve') {
    const v = [...a.variants].filter((x) => x.pays).sort((p, q) => q.speedup - p.speedup)[0];
    text =
      v?.statements.find((s) => s.startsWith('Optimising the model is a lever')) ?? bottleneck.text;
  } else if (lever === 'batch') text = pick(/^A larger batch is a lever/) ?? bottleneck.text;
  else if (
    (lever === 'vertical' || lever === 'horizontal') &&
    (bottleneck.kind === 'room' || bottleneck.kind === 'cores')
  )
    text =
      pick(lever === 'vertical' ? /^Vertical is the lever/ : /^Horizontal is the lever/) ??
      bottleneck.text;
  else text = bottleneck.text;
  const planned = plan(a, bottleneck, lever);
  return {
    scope: a.kind,
    source: a.source,
    lever,
    ...(then !== undefined && then !== 'none' ? { then } : {}),
    text,
    bottleneck,
    ...planned,
  };
}

function plan(
  a: ServeAnalysis | PipelineAnalysis,
  b: Bottleneck,
  lever: Lever,
): { next?: NextConfig; prediction?: Prediction } {
  return a.kind === 'serve' ? planServe(a, b, lever) : planPipeline(a, b, lever);
}

function planPipeline(
  a: PipelineAnalysis,
  b: Bottleneck,
  lever: Lever,
): { next?: NextConfig; prediction?: Prediction } {
  const s = a.scaling;
  const cores = a.sweep.machine.cpus;
  const executor = a.sweep.executor;
  if (lever === 'stage' && s) {
    const pts = a.sweep.points.filter(
      (p) => p.batchSize === s.batchSize && p.batches === s.batches,
    );
    const one = pts.find((p) => p.workers === 1);
    const many = pts.reduce((p, q) => (q.workers > p.workers ? q : p));
    const top = one && many.workers > 1 ? serialParts(one, many, many.workers)[0] : undefined;
    if (!top || top.seconds <= 0) return {};
    const now = many.rows / many.seconds;
    const bound = many.rows / (many.seconds - top.seconds);
    return {
      prediction: {
        what: `rows/s with ${units(many.workers, 'workers')} once "${top.name}" no longer holds the others up (an upper bound: the part made free)`,
        value: bound,
        low: now,
        high: bound * (1 + kMeasurementNoise),
        unit: 'rows/s',
        basis: `${top.name}'s serial share ${(top.share * 100).toFixed(0)}% of the run taken out`,
      },
    };
  }
  if (!s) return {};
  const { n, x } = s.series;
  const bestN = s.verdict.bestN;
  const bestX = s.verdict.bestX;
  const base = { scope: 'pipeline' as const, executor, batchSize: s.batchSize, batches: s.batches };
  // With the one-worker run's phases (sweeps since they are recorded), the phase model
  // (pipeline-model.ts); else Amdahl over the series, or linear from the best point.
  const one = a.sweep.points.find(
    (p) => p.workers === 1 && p.batches === s.batches && p.batchSize === s.batchSize,
  );
  const amdahl = (target: number, what: string, sharedCpus: number): Prediction => {
    const f = one && forecastPipeline(one, { workers: target, sharedCpus });
    if (f) return predictFromModel(f.rowsPerSecond, what, 'rows/s', f.basis);
    return n.includes(1)
      ? predictAmdahl(n, x, target, what, 'rows/s')
      : predictScaled(bestX, target / bestN, what, 'rows/s', 'linear in workers (no N = 1 point)');
  };
  if (lever === 'vertical') {
    const workers = bestN < cores ? cores : bestN + 1;
    return {
      next: { ...base, workers, machines: 1 },
      prediction: amdahl(workers, `rows/s with ${units(workers, 'workers')}`, cores),
    };
  }
  if (lever === 'horizontal') {
    const what = `rows/s on 2 machines of ${units(bestN, 'workers')} each (bullmq executor)`;
    // The best point measured what a machine of bestN workers does, contention among its cores
    // included; across machines only the driver's serial part (from the one-worker run's phases)
    // is not split. Else Amdahl over all the workers.
    const many = a.sweep.points.find(
      (p) => p.workers === bestN && p.batches === s.batches && p.batchSize === s.batchSize,
    );
    const serial = one && forecastPipeline(one, { workers: 1 })?.serialSeconds;
    // One worker a machine: the phase model with a worker per machine, as bench:hosts checks it.
    const perHost = bestN === 1 && one ? forecastPipeline(one, { workers: 2 }) : undefined;
    const prediction = perHost
      ? predictFromModel(perHost.rowsPerSecond, what, 'rows/s', perHost.basis)
      : many && serial !== undefined
        ? predictFromModel(
            many.rows / (serial + Math.max(0, many.seconds - serial) / 2),
            what,
            'rows/s',
            `the ${units(bestN, 'workers')}' run (${many.seconds.toFixed(2)} s) with all but the driver's serial ${serial.toFixed(2)} s (from the one-worker run's phases) split over 2 machines${executor === 'bullmq' ? '' : `; measured with the ${executor} executor, so without bullmq's hand-over per batch (Redis round trips), which lowers it`}`,
          )
        : amdahl(2 * bestN, what, 2 * cores);
    return { next: { ...base, workers: bestN, machines: 2 }, prediction };
  }
  if (lever === 'batch' && a.batch) {
    const { a: overhead, b: perRow } = a.batch.fit;
    if (!(overhead > 0 && perRow > 0)) return {};
    const current = s.batchSize;
    const size = Math.max(current * 2, Math.ceil((overhead * 9) / perRow));
    const speed = (bs: number) => bs / (overhead + perRow * bs);
    const factor = speed(size) / speed(current);
    const at = n.indexOf(a.batch.workers);
    const measured = at >= 0 ? x[at]! : bestX;
    return {
      next: { ...base, workers: a.batch.workers, batchSize: size, machines: 1 },
      prediction: predictScaled(
        measured,
        factor,
        `rows/s with batches of ${size} rows (${units(a.batch.workers, 'workers')})`,
        'rows/s',
        `per-batch cost ${overhead.toExponential(2)} s + ${perRow.toExponential(2)} s per row`,
      ),
    };
  }
  return {};
}

function planServe(
  a: ServeAnalysis,
  b: Bottleneck,
  lever: Lever,
): { next?: NextConfig; prediction?: Prediction } {
  const cores = a.sweep.machine.cpus;
  const best = a.best;
  if (lever === 'optimize') {
    const v = [...a.variants].filter((x) => x.pays).sort((p, q) => q.speedup - p.speedup)[0];
    if (!v) return {};
    return {
      next: { scope: 'serve', config: { ...best.config, model: v.model }, machines: 1 },
      prediction: predictScaled(
        v.variantRate,
        1,
        `req/s at the SLO serving ${v.model}`,
        'req/s',
        'measured in the sweep',
      ),
    };
  }
  if (lever === 'horizontal') {
    return {
      next: { scope: 'serve', config: best.config, machines: 2 },
      prediction: predictMachines(
        best.maxRateAtSlo,
        2,
        `req/s at the SLO on 2 machines behind a load balancer`,
        'req/s',
      ),
    };
  }
  if (lever === 'batch' && a.batch) {
    const k = a.batch.batchSizes.length - 1;
    const gain = a.batch.x[k]! / a.batch.x[k - 1]!;
    const limit = a.batch.batchSizes[k]! * 2;
    return {
      next: { scope: 'serve', config: { ...best.config, maxBatchSize: limit }, machines: 1 },
      prediction: {
        what: `req/s at the SLO with batch ≤ ${limit}`,
        value: a.batch.x[k]! * Math.sqrt(gain),
        low: a.batch.x[k]! * (1 - kMeasurementNoise),
        high: a.batch.x[k]! * gain * (1 + kMeasurementNoise),
        unit: 'req/s',
        basis: `between no gain and the last step's ${gain.toFixed(2)}x again`,
      },
    };
  }
  if (lever === 'vertical') {
    if (b.kind === 'http-thread') {
      const replicas = Math.min(cores, Math.max(2, best.config.replicas + 1));
      const cpuCores = (best.cpuUtilisation ?? 1 / cores) * cores;
      const factor = Math.min(replicas, cores / cpuCores);
      return {
        next: { scope: 'serve', config: { ...best.config, replicas }, machines: 1 },
        prediction: predictScaled(
          best.maxRateAtSlo,
          factor,
          `req/s at the SLO with ${units(replicas, 'replicas')}`,
          'req/s',
          `each replica adds an event loop until the ${cores} cores are busy (1 replica used ${cpuCores.toFixed(2)})`,
          [1, factor],
        ),
      };
    }
    const s = a.scaling;
    if (!s) return {};
    const field =
      s.series.dimension === 'replicas'
        ? 'replicas'
        : s.series.dimension === 'instances'
          ? 'instances'
          : 'intraOpThreads';
    const bestN = s.verdict.bestN;
    const target = bestN < cores ? cores : bestN + 1;
    const from = s.configs.find((c) => c.config[field] === bestN) ?? best;
    const { n, x } = s.series;
    const what = `req/s at the SLO with ${units(target, s.series.dimension)}`;
    return {
      next: { scope: 'serve', config: { ...from.config, [field]: target }, machines: 1 },
      prediction: n.includes(1)
        ? predictAmdahl(n, x, target, what, 'req/s')
        : predictScaled(s.verdict.bestX, target / bestN, what, 'req/s', 'linear (no N = 1 point)'),
    };
  }
  return {};
}
