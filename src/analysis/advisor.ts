/**
 * The advisor: from measured sweeps, which lever to pull next — a larger batch, more of it on this
 * machine (vertical) or more machines (horizontal) — with a capacity plan and what each option
 * costs. Every sentence cites the measurements (or the fit of them) behind it; a prediction says it
 * is one.
 *
 * @module
 */
import { analysePipeline, type PipelineAnalysis } from './analyse-pipeline.js';
import { analyseServe, type ServeAnalysis } from './analyse-serve.js';
import { duration, money, num } from './format.js';
import { checkPrices, labelCpus } from './prices.js';
import { predictForCores } from './scaling.js';
import type { Lever } from './bottleneck.js';
import { predictionText } from './prediction.js';
import { recommend, type Recommendation } from './recommend.js';
import { checkSweep } from './sweep-file.js';
import type { SweepFile } from './sweep-schema.js';

/** What the advisor plans for. */
export interface AdviseOptions {
  /** Machine size label (`<N>cpu`, e.g. '2cpu') → price per hour. */
  prices?: Record<string, number>;
  /** Requests per second the service must answer within the SLO. */
  targetRate?: number;
  /** Rows a pipeline run must process… */
  targetRows?: number;
  /** …within this many seconds. */
  targetSeconds?: number;
}

export type { Lever } from './bottleneck.js';
export type { NextConfig, Recommendation } from './recommend.js';

/** One way to buy the capacity: a machine size, how many, and what it costs. */
export interface CostOption {
  readonly scope: 'serve' | 'pipeline';
  readonly label: string;
  readonly cpus: number;
  /**
   * horizontal: machines of the measured size; vertical: bigger ones; smaller: smaller ones;
   * optimize: machines of the measured size serving the cheaper model variant `model`.
   */
  readonly direction: 'horizontal' | 'vertical' | 'smaller' | 'optimize';
  /** The model variant served, for `optimize`. */
  readonly model?: string;
  readonly machines: number;
  /** Per machine: req/s at the SLO (serve) or rows/s (pipeline). */
  readonly throughput: number;
  /** False when measured on this size; true when predicted from the measured size. */
  readonly predicted: boolean;
  readonly basis: string;
  readonly pricePerHour: number;
  readonly costPerHour: number;
  /** Serve: cost of a million predictions (rows) at the target rate, or at full load without one. */
  readonly costPerMillion?: number;
  /** Pipeline: length and cost of one run of the target rows (or of the largest run measured). */
  readonly runSeconds?: number;
  readonly costPerRun?: number;
}

/** What the advisor says. */
export interface Advice {
  readonly recommendations: readonly Recommendation[];
  readonly analyses: readonly (ServeAnalysis | PipelineAnalysis)[];
  readonly costs: readonly CostOption[];
  /** Cost sentences (also in lines). */
  readonly costStatements: readonly string[];
  /** The whole advice as text lines, for a terminal or a report. */
  readonly lines: readonly string[];
}

/**
 * Reads the sweeps and says which lever to pull next, why, how much capacity a target needs and
 * what each machine size costs.
 *
 * @param sweeps one or more sweep files (serve and/or pipeline), as readSweepFile returns them
 * @param options prices per machine size and the targets to plan for
 * @example
 * const advice = advise([await readSweepFile('reports/serve')], { prices: { '2cpu': 0.1, '8cpu': 0.38 }, targetRate: 50000 });
 * console.log(advice.lines.join('\n'));
 */
export function advise(sweeps: readonly SweepFile[], options: AdviseOptions = {}): Advice {
  if (!Array.isArray(sweeps) || sweeps.length === 0)
    throw new RangeError('advise needs at least one sweep');
  sweeps.forEach((s, i) => checkSweep(s, `sweeps[${i}]`));
  const o = checkOptions(options);
  const target =
    o.targetRows !== undefined && o.targetSeconds !== undefined
      ? { rows: o.targetRows, seconds: o.targetSeconds }
      : undefined;
  const analyses = sweeps.map((s) =>
    s.kind === 'serve' ? analyseServe(s, o.targetRate) : analysePipeline(s, target),
  );

  const recommendations = analyses.map(recommend);
  const costs: CostOption[] = [];
  const costStatements: string[] = [];
  if (o.prices && Object.keys(o.prices).length > 0) {
    for (const a of analyses) {
      const c =
        a.kind === 'serve'
          ? serveCosts(a, o.prices, o.targetRate)
          : pipelineCosts(a, o.prices, target);
      costs.push(...c.options);
      costStatements.push(...c.statements);
    }
  }

  const lines: string[] = [];
  for (const [i, a] of analyses.entries()) {
    const r = recommendations[i]!;
    if (i > 0) lines.push('');
    lines.push(`${a.kind === 'serve' ? 'Serving' : 'Pipeline'}: ${a.source}`);
    lines.push(
      `  Bottleneck: ${bottleneckWords(r.bottleneck.kind)}${r.bottleneck.where ? ` (${r.bottleneck.where})` : ''}. ${r.bottleneck.text}`,
      `  Next lever: ${leverWords(r.lever)}${r.then ? `, then ${leverWords(r.then)}` : ''}.`,
    );
    if (r.prediction)
      lines.push(
        `  Predicted: ${r.prediction.what}: ${predictionText(r.prediction)} — ${r.prediction.basis}.`,
      );
    for (const s of a.statements) lines.push(`  - ${s}`);
  }
  if (costStatements.length > 0) {
    lines.push('', 'Costs');
    for (const s of costStatements) lines.push(`  - ${s}`);
  } else {
    lines.push(
      '',
      'Costs: give prices per machine size (--price 2cpu=0.10/h,8cpu=0.38/h) to compare vertical and horizontal.',
    );
  }
  return { recommendations, analyses, costs, costStatements, lines };
}

/** The lever in a few words. */
export function leverWords(lever: Lever): string {
  switch (lever) {
    case 'stage':
      return 'make the serial part faster or parallel (more workers or machines would not help)';
    case 'batch':
      return 'a larger batch';
    case 'optimize':
      return 'optimise the model (serve its faster variant)';
    case 'vertical':
      return 'vertical (more replicas, instances or workers on this machine, or a bigger machine)';
    case 'horizontal':
      return 'horizontal (more machines of this size)';
    default:
      return 'none found from these measurements';
  }
}

interface FilledOptions {
  prices?: Record<string, number>;
  targetRate?: number;
  targetRows?: number;
  targetSeconds?: number;
}

function checkOptions(options: AdviseOptions): FilledOptions {
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`options must be an object, got ${JSON.stringify(options)}`);
  const positive = (name: string, v: number | undefined) => {
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v <= 0))
      throw new RangeError(`options.${name} must be a number > 0, got ${JSON.stringify(v)}`);
  };
  positive('targetRate', options.targetRate);
  positive('targetRows', options.targetRows);
  positive('targetSeconds', options.targetSeconds);
  if ((options.targetRows === undefined) !== (options.targetSeconds === undefined)) {
    throw new RangeError(
      'options.targetRows and options.targetSeconds go together: rows to process within a time',
    );
  }
  if (options.prices !== undefined) checkPrices(options.prices);
  return { ...options };
}

function direction(cpus: number, cores: number): CostOption['direction'] {
  return cpus === cores ? 'horizontal' : cpus > cores ? 'vertical' : 'smaller';
}

function cheapest<T extends CostOption>(options: T[], key: (o: T) => number): string {
  const sorted = [...options].sort((p, q) => key(p) - key(q));
  const h = sorted.find((o) => o.direction === 'horizontal');
  const v = sorted.find((o) => o.direction === 'vertical');
  const first = sorted[0]!;
  const vs =
    h && v
      ? ` Horizontal (${h.machines} × ${h.label}) ${money(key(h))} against vertical (${v.machines} × ${v.label}, ${v.predicted ? 'predicted' : 'measured'}) ${money(key(v))}.`
      : '';
  const o = sorted.find((x) => x.direction === 'optimize');
  const opt =
    o && h
      ? ` Optimising the model (${o.machines} × ${o.label} serving ${o.model}) ${money(key(o))} against ${money(key(h))} for the model as it is.`
      : '';
  const how =
    first.direction === 'optimize' ? `optimise the model: serve ${first.model}` : first.direction;
  return `Cheapest: ${first.machines} × ${first.label} (${how}${first.predicted ? ', predicted' : ''}).${vs}${opt}`;
}

function serveCosts(
  a: ServeAnalysis,
  prices: Record<string, number>,
  targetRate: number | undefined,
): { options: CostOption[]; statements: string[] } {
  const cores = a.sweep.machine.cpus;
  const rows = a.sweep.rowsPerRequest;
  if (a.best.maxRateAtSlo === 0)
    return {
      options: [],
      statements: [`Serving costs: no configuration met the SLO, so there is no rate to price.`],
    };
  const series = a.scaling?.series;
  const options: CostOption[] = Object.entries(prices)
    .map(([label, price]) => {
      const cpus = labelCpus(label)!;
      const i = series && series.dimension === 'replicas' ? series.n.indexOf(cpus) : -1;
      const p =
        cpus < cores && i >= 0
          ? {
              x: series!.x[i]!,
              basis: `measured with ${cpus} replica${cpus === 1 ? '' : 's'} on the ${cores}-CPU machine (stands in for a ${cpus}-CPU one)`,
            }
          : predictForCores(a.best.maxRateAtSlo, cores, cpus, a.scaling?.verdict.amdahlInCores);
      const machines = targetRate !== undefined ? Math.ceil(targetRate / p.x) : 1;
      const rate = targetRate ?? p.x;
      const costPerHour = machines * price;
      return {
        scope: 'serve' as const,
        label,
        cpus,
        direction: direction(cpus, cores),
        machines,
        throughput: p.x,
        predicted: !p.basis.startsWith('measured'),
        basis: p.basis,
        pricePerHour: price,
        costPerHour,
        costPerMillion: (costPerHour / (rate * rows * 3600)) * 1e6,
      };
    })
    .sort((p, q) => p.cpus - q.cpus);
  options.push(...variantCosts(a, prices, targetRate));
  const statements = options.map(
    (o) =>
      `Serving${o.model ? ` ${o.model}` : ''} on ${o.label} at ${money(o.pricePerHour)}/h: ${num(o.throughput)} req/s at the SLO per machine (${o.basis}); ${
        targetRate !== undefined
          ? `${o.machines} machine${o.machines === 1 ? '' : 's'} for ${num(targetRate)} req/s, ${money(o.costPerHour)}/h`
          : 'one machine at full load'
      } — ${money(o.costPerMillion!)} per million predictions (price/h ÷ (predictions/s × 3600) × 10⁶).`,
  );
  if (options.length > 1)
    statements.push(
      `Serving: ${cheapest(options, (o) => o.costPerMillion!)} (per million predictions)`,
    );
  if (!options.some((o) => o.direction === 'horizontal'))
    statements.push(
      `Serving: no price was given for the measured size (${cores}cpu), so horizontal cannot be priced.`,
    );
  return { options, statements };
}

/**
 * Prices of serving each variant that pays, on the measured machine size (the only size its rate
 * was measured on): machines for the target rate (or one at full load) and the cost of a million
 * predictions, to set against the model as it is.
 */
function variantCosts(
  a: ServeAnalysis,
  prices: Record<string, number>,
  targetRate: number | undefined,
): CostOption[] {
  const cores = a.sweep.machine.cpus;
  const rows = a.sweep.rowsPerRequest;
  const label = Object.keys(prices).find((l) => labelCpus(l) === cores);
  if (label === undefined) return [];
  const price = prices[label]!;
  return a.variants
    .filter((v) => v.pays && v.variantRate > 0)
    .map((v) => {
      const machines = targetRate !== undefined ? Math.ceil(targetRate / v.variantRate) : 1;
      const rate = targetRate ?? v.variantRate;
      const costPerHour = machines * price;
      return {
        scope: 'serve' as const,
        label,
        cpus: cores,
        direction: 'optimize' as const,
        model: v.model,
        machines,
        throughput: v.variantRate,
        predicted: false,
        basis: `measured serving ${v.model} on this ${cores}-CPU machine`,
        pricePerHour: price,
        costPerHour,
        costPerMillion: (costPerHour / (rate * rows * 3600)) * 1e6,
      };
    });
}

function pipelineCosts(
  a: PipelineAnalysis,
  prices: Record<string, number>,
  target: { rows: number; seconds: number } | undefined,
): { options: CostOption[]; statements: string[] } {
  const cores = a.sweep.machine.cpus;
  const bs = a.best.batchSize;
  const fixed = a.model ? Math.max(0, a.model.fit.a) : 0;
  const perBatch = a.model ? a.model.fit.b : a.best.seconds / a.best.batches;
  const rows = target?.rows ?? a.best.rows;
  const batches = Math.ceil(rows / bs);
  const options: CostOption[] = [];
  for (const [label, price] of Object.entries(prices)) {
    const cpus = labelCpus(label)!;
    const series = a.scaling?.series;
    const i = series && cpus < cores ? series.n.indexOf(cpus) : -1;
    const p =
      i >= 0
        ? {
            x: series!.x[i]! / a.scaling!.verdict.bestX,
            basis: `measured with ${cpus} worker${cpus === 1 ? '' : 's'} on the ${cores}-CPU machine (stands in for a ${cpus}-CPU one)`,
          }
        : predictForCores(1, cores, cpus, a.scaling?.verdict.amdahlInCores);
    const work = (perBatch * batches) / p.x;
    let machines = 1;
    if (target) {
      if (target.seconds <= fixed) continue;
      machines = Math.max(1, Math.ceil(work / (target.seconds - fixed)));
    }
    const runSeconds = fixed + work / machines;
    options.push({
      scope: 'pipeline',
      label,
      cpus,
      direction: direction(cpus, cores),
      machines,
      throughput: (bs / perBatch) * p.x,
      predicted: !p.basis.startsWith('measured'),
      basis:
        p.basis === 'measured'
          ? `measured: t = ${duration(fixed)} + ${duration(perBatch)} per ${bs}-row batch`
          : p.basis,
      pricePerHour: price,
      costPerHour: machines * price,
      runSeconds,
      costPerRun: (machines * price * runSeconds) / 3600,
    });
  }
  options.sort((p, q) => p.cpus - q.cpus);
  const statements = options.map(
    (o) =>
      `Pipeline on ${o.label} at ${money(o.pricePerHour)}/h: ${num(o.throughput)} rows/s per machine (${o.basis}); ${num(rows)} rows on ${o.machines} machine${o.machines === 1 ? '' : 's'} take ${duration(o.runSeconds!)} and cost ${money(o.costPerRun!)} per run (machines × price/h × hours).`,
  );
  if (target && options.length === 0)
    statements.push(
      `Pipeline: no machine size finishes ${num(target.rows)} rows within ${duration(target.seconds)}: the fixed start-up alone is ${duration(fixed)}.`,
    );
  if (options.length > 1)
    statements.push(`Pipeline: ${cheapest(options, (o) => o.costPerRun!)} (per run)`);
  return { options, statements };
}

/** The bottleneck kind in a few words. */
export function bottleneckWords(kind: Recommendation['bottleneck']['kind']): string {
  return {
    'serial-stage': 'a serial stage',
    parsing: 'parsing the source, serially',
    driver: 'the driver, serially',
    'batch-overhead': 'per-batch overhead',
    'batches-not-filling': 'batches not filling',
    generator: 'the load generator',
    'http-thread': "the replica's HTTP thread",
    memory: 'memory',
    cores: "the machine's cores",
    room: 'none yet (room to scale on this machine)',
    unknown: 'not found from these measurements',
  }[kind];
}
