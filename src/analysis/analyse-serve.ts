/**
 * What a serve sweep says: the best configuration, throughput against replicas (or instances, or
 * threads) with its fits and verdict, the batch size lever, and the capacity plan for a target rate.
 *
 * @module
 */
import {
  configModel,
  type ServeConfig,
  type ServeConfigResult,
  type ServeSweep,
} from './sweep-schema.js';
import { analyseVariants, type VariantLever } from './analyse-variants.js';
import { configLabel } from './sweep-file.js';
import { num, pct, ratio } from './format.js';
import { judgeScaling, kScalingGain, type ScalingSeries, type ScalingVerdict } from './scaling.js';

/** Mean rows per batch, as a share of the limit, from which batches count as filling it. */
export const kBatchFull = 0.8;

/** Throughput at the SLO against the largest batch the server may form, everything else fixed. */
export interface BatchSeries {
  readonly fixed: string;
  readonly batchSizes: readonly number[];
  /** Requests/s at the SLO. */
  readonly x: readonly number[];
  /** Mean rows per executed batch, when measured. */
  readonly meanBatch: readonly (number | null)[];
}

/** The analysis of one serve sweep. */
export interface ServeAnalysis {
  readonly kind: 'serve';
  /** Where it came from, in words: model and SLO. */
  readonly source: string;
  readonly sweep: ServeSweep;
  /** The configuration with the highest rate at the SLO. */
  readonly best: ServeConfigResult;
  readonly scaling?: {
    readonly series: ScalingSeries;
    readonly verdict: ScalingVerdict;
    readonly configs: readonly ServeConfigResult[];
  };
  readonly batch?: BatchSeries;
  /** True when a larger batch is the lever (see statements). */
  readonly batchLever: boolean;
  /** True when half or more of the load points were generator-bound: no lever is recommended. */
  readonly unreliable: boolean;
  /** Machines of the measured size for options.targetRate (requests/s), when given. */
  readonly capacity?: {
    readonly targetRate: number;
    readonly machines: number;
    readonly perMachine: number;
  };
  /** The sweep's model variants (INT8, FP16, ...) against the base model: the "optimise the model" lever. */
  readonly variants: readonly VariantLever[];
  readonly statements: readonly string[];
}

type Field = Exclude<keyof ServeConfig, 'model'>;
const kFields: readonly Field[] = [
  'replicas',
  'instances',
  'intraOpThreads',
  'maxBatchSize',
  'maxQueueDelayMs',
];

/** Configurations that differ only in `field`, the largest such group, sorted by it; undefined when none has two. */
function seriesAlong(
  configs: readonly ServeConfigResult[],
  field: Field,
): ServeConfigResult[] | undefined {
  const groups = new Map<string, ServeConfigResult[]>();
  for (const c of configs) {
    const key = JSON.stringify(kFields.filter((f) => f !== field).map((f) => c.config[f]));
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  let best: ServeConfigResult[] | undefined;
  for (const g of groups.values()) {
    const sorted = [...g].sort((p, q) => (p.config[field] as number) - (q.config[field] as number));
    const peak = (s: ServeConfigResult[]) => Math.max(...s.map((c) => c.maxRateAtSlo));
    if (
      sorted.length >= 2 &&
      (!best ||
        sorted.length > best.length ||
        (sorted.length === best.length && peak(sorted) > peak(best)))
    )
      best = sorted;
  }
  return best;
}

function fixedLabel(c: ServeConfig, field: Field): string {
  const parts: Record<Field, string> = {
    replicas: `${c.replicas} replica${c.replicas === 1 ? '' : 's'}`,
    instances: `${c.instances} instance${c.instances === 1 ? '' : 's'}`,
    intraOpThreads: `${c.intraOpThreads} thread${c.intraOpThreads === 1 ? '' : 's'} per instance`,
    maxBatchSize: `batch ≤ ${c.maxBatchSize}`,
    maxQueueDelayMs: c.maxQueueDelayMs === 'auto' ? 'auto delay' : `delay ${c.maxQueueDelayMs} ms`,
  };
  return kFields
    .filter((f) => f !== field)
    .map((f) => parts[f])
    .join(', ');
}

/**
 * Analyses one serve sweep; `targetRate` in requests/s. Batching and scaling are read from the
 * base model's configurations; the variants are weighed against them (analyseVariants).
 */
export function analyseServe(whole: ServeSweep, targetRate?: number): ServeAnalysis {
  const variants = analyseVariants(whole);
  const sweep: ServeSweep = {
    ...whole,
    configs: whole.configs.filter((c) => configModel(whole, c) === whole.model),
  };
  const cores = sweep.machine.cpus;
  const slo = `p99 ≤ ${num(sweep.sloP99Ms)} ms`;
  const statements: string[] = [];
  // The highest rate at the SLO; when none met it, the highest throughput achieved at all.
  const peak = (c: ServeConfigResult) => Math.max(0, ...c.points.map((p) => p.achievedRate));
  const best = sweep.configs.reduce((p, q) =>
    q.maxRateAtSlo > p.maxRateAtSlo || (q.maxRateAtSlo === p.maxRateAtSlo && peak(q) > peak(p))
      ? q
      : p,
  );
  const against = variants.length > 0 ? ` against ${variants.map((v) => v.model).join(', ')}` : '';
  const source = `serve sweep of model ${sweep.model}${against} (${sweep.rowsPerRequest} row${sweep.rowsPerRequest === 1 ? '' : 's'} per request, SLO ${slo}, ${cores} CPUs, ${sweep.configs.length} configurations)`;
  if (best.maxRateAtSlo === 0) {
    const lowest = (c: ServeConfigResult) =>
      [...c.points].sort(
        (p, q) => (p.offeredRate ?? p.achievedRate) - (q.offeredRate ?? q.achievedRate),
      )[0];
    const at = sweep.configs.map((c) => {
      const p = lowest(c);
      return p
        ? `${configLabel(c.config)}: p99 ${num(p.latencyMs.p99)} ms at ${num(p.offeredRate ?? p.achievedRate)} req/s`
        : `${configLabel(c.config)}: no points`;
    });
    statements.push(
      `No configuration met the SLO (${slo}) at any rate tried, so there is no capacity to plan from — at the lowest rates: ${at.join('; ')}. Check that the load generator had cores to itself (generator-bound points say so), then raise the SLO or speed up the model.`,
    );
    statements.push(...variants.flatMap((v) => v.statements));
    return {
      kind: 'serve',
      source,
      sweep,
      best,
      batchLever: false,
      unreliable: false,
      variants,
      statements,
    };
  }
  // An open-loop point whose generator could not send at the offered rate measured the client, not
  // the server: say how many there were before any advice is read.
  const all = sweep.configs.flatMap((c) => c.points);
  const bound = all.filter((p) => p.generatorBound).length;
  const unreliable = all.length > 0 && bound >= all.length / 2;
  if (bound > 0) {
    statements.push(
      `Caution: ${bound} of the ${all.length} load points were generator-bound — the load generator could not send at the offered rate, so those rates measure the client and the machine it shared, not the server${unreliable ? '. With this many, treat every figure below as a lower bound and re-run the sweep with the machine otherwise idle or the generator elsewhere' : ''}.`,
    );
  }
  statements.push(
    `Best configuration: ${configLabel(best.config)} — ${num(best.maxRateAtSlo)} req/s at the SLO (${slo}; p99 ${num(best.p99AtMaxMs ?? NaN)} ms there)${best.cpuUtilisation !== null ? `, CPU ${pct(best.cpuUtilisation)} busy` : ''}.`,
  );

  let scaling: ServeAnalysis['scaling'];
  const fields: [Field, string][] = [
    ['replicas', 'replicas'],
    ['instances', 'instances'],
    ['intraOpThreads', 'threads'],
  ];
  for (const [field, dimension] of fields) {
    const s = seriesAlong(sweep.configs, field);
    if (!s || s.every((c) => c.maxRateAtSlo === 0)) continue;
    const usable = s.filter((c) => c.maxRateAtSlo > 0);
    const series: ScalingSeries = {
      dimension,
      unit: 'req/s',
      fixed: fixedLabel(s[0]!.config, field),
      n: usable.map((c) => c.config[field] as number),
      x: usable.map((c) => c.maxRateAtSlo),
      cpu: usable.map((c) => c.cpuUtilisation),
      spread: 'behind a load balancer (mlscale deploy nginx|haproxy|k8s)',
    };
    if (series.n.length < 2) continue;
    scaling = { series, verdict: judgeScaling(series, cores), configs: usable };
    statements.push(...scaling.verdict.statements);
    const failed = s.filter((c) => c.maxRateAtSlo === 0).map((c) => c.config[field] as number);
    if (failed.length > 0)
      statements.push(
        `Left out of the fits: ${failed.join(', ')} ${dimension}, which met the SLO at no rate tried (that too says more ${dimension} did not help).`,
      );
    break;
  }
  if (!scaling)
    statements.push(
      `The sweep holds no two configurations that differ only in replicas, instances or threads, so it says nothing of scaling: sweep --replicas 1,2,… to find the lever.`,
    );

  let batch: BatchSeries | undefined;
  let batchLever = false;
  const bs = seriesAlong(sweep.configs, 'maxBatchSize');
  if (bs && bs.some((c) => c.maxRateAtSlo > 0)) {
    batch = {
      fixed: fixedLabel(bs[0]!.config, 'maxBatchSize'),
      batchSizes: bs.map((c) => c.config.maxBatchSize),
      x: bs.map((c) => c.maxRateAtSlo),
      meanBatch: bs.map((c) => c.meanBatchSize),
    };
    const k = batch.x.length - 1;
    const first = batch.x[0]!;
    const top = batch.x.reduce((i, v, j, a) => (v > a[i]! ? j : i), 0);
    const lastGain = batch.x[k]! / batch.x[k - 1]!;
    const list = batch.batchSizes
      .map(
        (b, i) =>
          `≤ ${b}: ${num(batch!.x[i]!)} req/s${batch!.meanBatch[i] !== null ? ` (mean batch ${num(batch!.meanBatch[i]!)})` : ''}`,
      )
      .join('; ');
    const fill = batch.meanBatch[k];
    const known = fill !== null && fill !== undefined;
    const capBinding = known && fill >= kBatchFull * batch.batchSizes[k]!;
    // Batches that do not reach the limit cannot be helped by a higher one, whatever the last
    // step measured: the mean batch is the evidence, the step's gain only a hint (noise, delay).
    batchLever = known ? capBinding : lastGain >= kScalingGain;
    const overhead = first > 0 && batch.x[top]! > first ? 1 - first / batch.x[top]! : 0;
    statements.push(`Throughput at the SLO against the largest batch (${batch.fixed}): ${list}.`);
    if (overhead > 0) {
      statements.push(
        `At batch ≤ ${batch.batchSizes[0]} a request costs ${num(1e6 / first)} µs of server time, at ≤ ${batch.batchSizes[top]} ${num(1e6 / batch.x[top]!)} µs: ${pct(overhead)} of the small-batch cost was per-batch overhead that batching shares out.`,
      );
    }
    statements.push(
      known && !capBinding && lastGain >= kScalingGain
        ? `Batches do not fill: under the limit of ${batch.batchSizes[k]} they averaged ${num(fill)} rows (${pct(fill / batch.batchSizes[k]!)} of it), so the limit is not what binds and a larger --max-batch-size will not raise throughput — the last step's ${ratio(lastGain)} (≤ ${batch.batchSizes[k - 1]} → ≤ ${batch.batchSizes[k]}) came from elsewhere (run-to-run noise, or the batching delay).`
        : batchLever
          ? `A larger batch is a lever: the last step (≤ ${batch.batchSizes[k - 1]} → ≤ ${batch.batchSizes[k]}) still gave ${ratio(lastGain)}${capBinding ? ` and batches fill to ${num(fill!)} of ${batch.batchSizes[k]}` : ''}; try --max-batch-size ${batch.batchSizes[k]! * 2}.`
          : `Batching is used up: the last step (≤ ${batch.batchSizes[k - 1]} → ≤ ${batch.batchSizes[k]}) gave ${ratio(lastGain)}${fill !== null && fill !== undefined ? ` and batches hold ${num(fill)} rows on average, well under the cap` : ''}; a larger --max-batch-size will not raise throughput.`,
    );
  }

  let capacity: ServeAnalysis['capacity'];
  if (targetRate !== undefined) {
    const machines = Math.ceil(targetRate / best.maxRateAtSlo);
    capacity = { targetRate, machines, perMachine: best.maxRateAtSlo };
    statements.push(
      `Capacity: ${num(targetRate)} req/s at the SLO needs ceil(${num(targetRate)} / ${num(best.maxRateAtSlo)}) = ${machines} machine${machines === 1 ? '' : 's'} of ${cores} CPUs, each running ${configLabel(best.config)} (no headroom included; add some for failures and peaks).`,
    );
  }
  statements.push(...variants.flatMap((v) => v.statements));
  return {
    kind: 'serve',
    source,
    sweep,
    best,
    ...(scaling ? { scaling } : {}),
    ...(batch ? { batch } : {}),
    batchLever,
    unreliable,
    ...(capacity ? { capacity } : {}),
    variants,
    statements,
  };
}
