/**
 * `mlscale advise --verify`: runs the configuration a recommendation says to run next — the same
 * sweep machinery, one grid point — and sets what it measures against what the advisor predicted:
 * the error in %, and whether the measurement fell in the prediction's interval. Horizontal steps
 * need more machines than this one: they are skipped with the reason (`npm run bench:hosts`
 * simulates machines with network namespaces and CPU quotas).
 *
 * @module
 */
import { num, pct } from './format.js';
import { predictionError, predictionText, type Prediction } from './prediction.js';
import type { NextConfig, Recommendation } from './recommend.js';
import type { PipelineSweep, ServeSweep, SweepFile } from './sweep-schema.js';

/** A prediction within this relative error of its measurement counts as holding. */
export const kPredictionTolerance = 0.15;

/** What a verification found. */
export type Verification =
  | {
      readonly scope: 'serve' | 'pipeline';
      readonly next: NextConfig;
      readonly prediction: Prediction;
      readonly measured: number;
      /** (measured − predicted) / predicted. */
      readonly error: number;
      /** |error| ≤ kPredictionTolerance. */
      readonly holds: boolean;
      /** The measurement lies within the prediction's interval. */
      readonly inInterval: boolean;
      readonly text: string;
    }
  | { readonly scope: 'serve' | 'pipeline'; readonly skipped: string };

/** Runs one configuration and returns its throughput in the prediction's unit. */
export interface VerifyRunners {
  /** Rows/s of one pipeline run of `next` on the sweep's data. */
  pipeline(sweep: PipelineSweep, next: Extract<NextConfig, { scope: 'pipeline' }>): Promise<number>;
  /** Requests/s at the sweep's SLO of `next` on the sweep's model. */
  serve(sweep: ServeSweep, next: Extract<NextConfig, { scope: 'serve' }>): Promise<number>;
}

/** Runs the recommendation's next configuration and compares it with the prediction. */
export async function verifyRecommendation(
  sweep: SweepFile,
  rec: Recommendation,
  runners: VerifyRunners,
): Promise<Verification> {
  const scope = rec.scope;
  if (!rec.next || !rec.prediction)
    return {
      scope,
      skipped: `the recommendation (${rec.lever}) names no configuration to run: nothing to verify`,
    };
  if (rec.next.machines > 1)
    return {
      scope,
      skipped: `the next step needs ${rec.next.machines} machines and this is one: npm run bench:hosts measures it on simulated hosts (network namespaces with CPU quotas)`,
    };
  const next = rec.next;
  const measured =
    next.scope === 'pipeline'
      ? await runners.pipeline(sweep as PipelineSweep, next)
      : await runners.serve(sweep as ServeSweep, next);
  const p = rec.prediction;
  const error = predictionError(p, measured);
  const holds = Math.abs(error) <= kPredictionTolerance;
  const inInterval = measured >= p.low && measured <= p.high;
  return {
    scope,
    next,
    prediction: p,
    measured,
    error,
    holds,
    inInterval,
    text: `Verified: ${p.what}: predicted ${predictionText(p)}, measured ${num(measured)} ${p.unit} — ${error >= 0 ? '+' : '−'}${pct(Math.abs(error))} (${holds ? `within the ${pct(kPredictionTolerance)} target` : `outside the ${pct(kPredictionTolerance)} target`}; ${inInterval ? 'inside' : 'outside'} the interval).`,
  };
}

/** The runners that measure for real, with the sweeps' own machinery (loaded on first use). */
export function sweepRunners(options: {
  redis?: string;
  repeats?: number;
  onProgress?: (line: string) => void;
}): VerifyRunners {
  return {
    async pipeline(sweep, next) {
      const { sweepPipeline } = await import('./sweep-pipeline.js');
      const result = await sweepPipeline({
        data: sweep.data,
        ...(sweep.label !== undefined ? { label: sweep.label } : {}),
        batches: [next.batches],
        workers: [next.workers],
        executor: next.executor,
        batchSize: next.batchSize,
        repeats: options.repeats ?? sweep.repeats,
        epochs: sweep.epochs ?? 1,
        model: (sweep.model ?? 'mlp') as 'mlp',
        ...(options.redis !== undefined ? { redis: options.redis } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
      const p = result.points[0]!;
      return p.rows / p.seconds;
    },
    async serve(sweep, next) {
      const { sweepServe } = await import('./sweep-serve.js');
      const c = next.config;
      const result = await sweepServe({
        modelRepository: sweep.modelRepository,
        model: c.model ?? sweep.model,
        replicas: [c.replicas],
        instances: [c.instances],
        intraOpThreads: c.intraOpThreads,
        maxBatchSize: [c.maxBatchSize],
        maxQueueDelayMs: [c.maxQueueDelayMs],
        sloP99Ms: sweep.sloP99Ms,
        rowsPerRequest: sweep.rowsPerRequest,
        pointDurationMs: sweep.pointDurationS * 1000,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
      return result.configs[0]!.maxRateAtSlo;
    },
  };
}
