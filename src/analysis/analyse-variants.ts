/**
 * The "optimise the model" lever: what a serve sweep measured for a model's variants (INT8,
 * FP16, ... from `mlscale optimize`) against the base model on the same machine and grid — the
 * speed-up at the SLO, the accuracy it costs (as `mlscale optimize` measured it), and what that
 * does to the cost of a prediction.
 *
 * Why it comes before vertical and horizontal scaling when it pays: a faster model serves more
 * requests on every machine, so the cost of a million predictions falls by the speed-up on any
 * machine size, while more machines (or bigger ones) buy capacity at the same cost per
 * prediction or a higher one.
 *
 * @module
 */
import { num, pct, ratio } from './format.js';
import { kScalingGain } from './scaling.js';
import { configLabel } from './sweep-file.js';
import {
  configModel,
  type ServeConfigResult,
  type ServeSweep,
  type VariantInfo,
} from './sweep-schema.js';

/** mlscale optimize's default accuracy allowance (points), when a variant's metadata names none. */
const kDefaultAllowance = 0.5;

/** One variant weighed against the base model. */
export interface VariantLever {
  readonly model: string;
  readonly variant: string | null;
  readonly of: string;
  /** Best rate at the SLO of the variant ÷ the base's, each in its best configuration. */
  readonly speedup: number;
  readonly baseRate: number;
  readonly variantRate: number;
  /** Configurations measured for both: the rate of each. */
  readonly pairs: readonly {
    readonly label: string;
    readonly base: number;
    readonly variant: number;
  }[];
  /** Whether its accuracy cost is within the allowance, beyond it, or not measured. */
  readonly accuracy: 'within' | 'beyond' | 'unknown';
  /** Accuracy cost in points (or its upper bound, from the top-1 agreement), when measured. */
  readonly drop?: number;
  /** Faster by at least the scaling gain and not beyond the accuracy allowance. */
  readonly pays: boolean;
  readonly statements: readonly string[];
}

const key = (c: ServeConfigResult) =>
  JSON.stringify([
    c.config.replicas,
    c.config.instances,
    c.config.intraOpThreads,
    c.config.maxBatchSize,
    c.config.maxQueueDelayMs,
  ]);

function best(configs: readonly ServeConfigResult[]): ServeConfigResult | undefined {
  return configs.reduce<ServeConfigResult | undefined>(
    (p, q) => (!p || q.maxRateAtSlo > p.maxRateAtSlo ? q : p),
    undefined,
  );
}

function accuracyOf(info: VariantInfo | undefined): {
  state: VariantLever['accuracy'];
  drop?: number;
  text: string;
} {
  const q = info?.quality;
  const allowance = info?.maxAccuracyDrop ?? kDefaultAllowance;
  if (!q)
    return {
      state: 'unknown',
      text: 'its accuracy cost was not measured (run mlscale optimize with --data to measure it)',
    };
  if (q.kind === 'data') {
    const name = q.metric === 'r2' ? 'R²' : 'accuracy';
    const text = `it ${q.drop > 0 ? `costs ${num(q.drop)} points of ${name}` : `loses no ${name}`} (${q.original.toFixed(4)} → ${q.value.toFixed(4)} on ${num(q.rows)} rows: ${q.split}, measured by mlscale optimize)`;
    return { state: q.drop > allowance ? 'beyond' : 'within', drop: q.drop, text };
  }
  if (q.drop === undefined || q.top1 === undefined) {
    return {
      state: 'unknown',
      text: `its outputs differ from the original's by at most ${num(q.maxAbsDiff)} on ${num(q.rows)} made-up rows; its accuracy cost was not measured (mlscale optimize --data measures it)`,
    };
  }
  const text = `its top-1 class matched the original's on ${pct(q.top1)} of ${num(q.rows)} made-up rows, so it costs at most ${num(q.drop)} points of accuracy (no labelled data was given to mlscale optimize)`;
  return { state: q.drop > allowance ? 'beyond' : 'within', drop: q.drop, text };
}

/** Weighs every model of the sweep other than the base against the base. */
export function analyseVariants(sweep: ServeSweep): VariantLever[] {
  const byModel = new Map<string, ServeConfigResult[]>();
  for (const c of sweep.configs)
    byModel.set(configModel(sweep, c), [...(byModel.get(configModel(sweep, c)) ?? []), c]);
  const base = byModel.get(sweep.model) ?? [];
  const baseBest = best(base);
  const levers: VariantLever[] = [];
  for (const [model, configs] of byModel) {
    if (model === sweep.model || !baseBest) continue;
    const info = sweep.variants?.find((v) => v.model === model);
    const top = best(configs)!;
    const baseByKey = new Map(base.map((c) => [key(c), c]));
    const pairs = configs
      .filter((c) => baseByKey.has(key(c)))
      .map((c) => ({
        label: configLabel(c.config),
        base: baseByKey.get(key(c))!.maxRateAtSlo,
        variant: c.maxRateAtSlo,
      }));
    const speedup =
      baseBest.maxRateAtSlo > 0
        ? top.maxRateAtSlo / baseBest.maxRateAtSlo
        : top.maxRateAtSlo > 0
          ? Infinity
          : NaN;
    const acc = accuracyOf(info);
    const pays = speedup >= kScalingGain && acc.state !== 'beyond';
    const what = info?.variant
      ? `the ${info.variant} variant of ${sweep.model}`
      : `measured against ${sweep.model}`;
    const statements = [
      `Optimising the model: ${model} (${what}) serves ${num(top.maxRateAtSlo)} req/s at the SLO against ${num(baseBest.maxRateAtSlo)} for ${sweep.model}, ${ratio(speedup)}, each in its best configuration (${configLabel(top.config)}; ${configLabel(baseBest.config)})${
        pairs.length > 1
          ? `; configuration by configuration: ${pairs.map((p) => `${p.label}: ${num(p.variant)} against ${num(p.base)}`).join('; ')}`
          : ''
      }. By accuracy, ${acc.text}${info?.sizeRatio !== undefined ? `; its file is ${ratio(info.sizeRatio)} the size` : ''}.`,
    ];
    if (pays) {
      statements.push(
        `Optimising the model is a lever: ${model} serves ${ratio(speedup)} the requests per machine, so a million predictions cost ${pct(1 / speedup)} of what they cost with ${sweep.model} on any machine size — vertical and horizontal scaling buy capacity at the same cost per prediction or a higher one. Serve ${model} before adding machines${acc.state === 'unknown' ? ', once its accuracy cost is measured' : ''}.`,
      );
    } else if (acc.state === 'beyond') {
      statements.push(
        `${model} is ${ratio(speedup)} as fast but costs ${num(acc.drop!)} points of accuracy, more than the ${num(info?.maxAccuracyDrop ?? kDefaultAllowance)} allowed: optimising this way is not a lever unless that loss is acceptable.`,
      );
    } else {
      statements.push(
        `Optimising the model is not a lever here: ${model} served ${ratio(speedup)} the rate of ${sweep.model} at the SLO, under the ${ratio(kScalingGain)} that counts as a gain on this noisy machine.`,
      );
    }
    levers.push({
      model,
      variant: info?.variant ?? null,
      of: sweep.model,
      speedup,
      baseRate: baseBest.maxRateAtSlo,
      variantRate: top.maxRateAtSlo,
      pairs,
      accuracy: acc.state,
      ...(acc.drop !== undefined ? { drop: acc.drop } : {}),
      pays,
      statements,
    });
  }
  return levers;
}
