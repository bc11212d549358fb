/**
 * The bottleneck a sweep shows, and the levers that act on it. The advisor recommends only a
 * lever this module lists for the bottleneck it found, so that its advice cannot contradict its
 * own fits: a serial pipeline never gets "add machines", batches that do not fill never get "raise
 * the batch limit", a generator-bound sweep gets no lever at all.
 *
 * @module
 */
import type { PipelineAnalysis } from './analyse-pipeline.js';
import { kBatchFull, type ServeAnalysis } from './analyse-serve.js';
import { duration, num, pct } from './format.js';
import { kCpuIdle, kScalingGain } from './scaling.js';

/** A lever the advisor can recommend. `stage`: make the serial part named faster or parallel. */
export type Lever = 'stage' | 'batch' | 'optimize' | 'vertical' | 'horizontal' | 'none';

/** What limits throughput. */
export type BottleneckKind =
  /** A pipeline phase whose time does not shrink with workers. */
  | 'serial-stage'
  /** That phase is the pass that reads and parses a text source (CSV, JSON Lines). */
  | 'parsing'
  /** Time outside the phases (start-up, scheduling, merging on the driver) that does not shrink. */
  | 'driver'
  /** A fixed cost per batch that a larger batch shares out. */
  | 'batch-overhead'
  /** Serving: batches stay well under the limit, so the limit is not what binds. */
  | 'batches-not-filling'
  /** Most load points measured the load generator, not the server. */
  | 'generator'
  /** Serving: one process at about one busy core — its event loop (HTTP, JSON) is the limit. */
  | 'http-thread'
  /** Peak memory near the machine's. */
  | 'memory'
  /** Work that scales with cores, all of them in use. */
  | 'cores'
  /** Not a bottleneck yet: throughput still grows with N and the machine has room. */
  | 'room'
  /** The measurements do not say (no scaling series, no rate met the SLO, an idle CPU). */
  | 'unknown';

/** The bottleneck, where it is, the evidence, and the levers that act on it (best first). */
export interface Bottleneck {
  readonly kind: BottleneckKind;
  /** Where it is, when it has a place: a stage name, 'driver', 'HTTP thread'. */
  readonly where?: string;
  /** The evidence in one sentence, with the numbers. */
  readonly text: string;
  /** Levers that act on it, best first; ['none'] when no lever should be pulled yet. */
  readonly levers: readonly Lever[];
}

/** Memory share of the machine from which memory is the bottleneck. */
export const kMemoryFull = 0.8;

/** Stage names whose serial time is the reading and parsing of the source. */
const kParsePhases = new Set(['fit', 'read', 'parse']);

/** Diagnoses one analysed sweep. */
export function diagnose(a: ServeAnalysis | PipelineAnalysis): Bottleneck {
  return a.kind === 'serve' ? diagnoseServe(a) : diagnosePipeline(a);
}

function scalingLevers(a: ServeAnalysis | PipelineAnalysis): Lever[] {
  const v = a.scaling?.verdict.lever;
  return v === 'vertical' ? ['vertical'] : v === 'horizontal' ? ['horizontal', 'vertical'] : [];
}

function diagnoseServe(a: ServeAnalysis): Bottleneck {
  const cores = a.sweep.machine.cpus;
  const all = a.sweep.configs.flatMap((c) => c.points);
  const bound = all.filter((p) => p.generatorBound).length;
  const variant = a.variants.some((v) => v.pays);
  const withModel = (levers: Lever[]): Lever[] =>
    variant ? ['optimize', ...levers.filter((l) => l !== 'optimize')] : levers;
  if (a.unreliable) {
    return {
      kind: 'generator',
      where: 'load generator',
      text: `${bound} of the ${all.length} load points were generator-bound: the load generator, not the server, set those rates. No lever can be read from them — re-run the sweep with the generator on its own cores (or machine).`,
      levers: ['none'],
    };
  }
  if (a.best.maxRateAtSlo === 0) {
    return {
      kind: 'unknown',
      text: `No configuration met the SLO at any rate tried, so no throughput limit was measured.`,
      levers: withModel(['none']).filter((l, _, ls) => l !== 'none' || ls.length === 1),
    };
  }
  // Batches under the limit: the limit is not what binds. Named as the bottleneck when the last
  // step of the batch series gained anyway — the evidence a reader (or a rule on the gain alone)
  // would misread as "raise the limit".
  const b = a.batch;
  const k = b ? b.batchSizes.length - 1 : -1;
  const fill = b ? b.meanBatch[k] : null;
  const notFilling =
    b !== undefined &&
    fill !== null &&
    fill !== undefined &&
    fill < kBatchFull * b.batchSizes[k]! &&
    b.x[k]! / b.x[k - 1]! >= kScalingGain;
  const best = a.best;
  const cpuCores = best.cpuUtilisation !== null ? best.cpuUtilisation * cores : null;
  // One process whose CPU is about one core, on a machine with more: the replica's event loop
  // (HTTP, JSON parse, batching) runs on one thread, whatever instances or threads it has.
  const oneCore = cpuCores !== null && cores >= 2 && cpuCores >= 0.6 && cpuCores <= 1.3;
  const dim = a.scaling?.series.dimension;
  const flatInProcess =
    dim === undefined || dim === 'instances' || dim === 'threads'
      ? a.scaling === undefined || a.scaling.verdict.lever !== 'vertical'
      : false;
  if (best.config.replicas === 1 && oneCore && flatInProcess) {
    return {
      kind: 'http-thread',
      where: 'HTTP thread',
      text: `The best configuration runs 1 replica at ${num(cpuCores!)} of ${cores} cores busy${dim ? `, and more ${dim} in that process did not raise throughput` : ''}: the replica's one event loop (HTTP, JSON, batching) is the limit, not the model's threads. More replicas — processes, each with its own event loop — act on it (--replicas ${Math.min(cores, 2)}).`,
      levers: ['vertical'],
    };
  }
  if (a.scaling?.verdict.lever === 'serial') {
    // No lever either way: a flat series on one machine does not say what more machines would do.
    // What it can say depends on the server's CPU, which the load generator's shares.
    let text: string;
    if (cpuCores === null)
      text = `Throughput does not grow with ${dim}, and the sweep did not measure the server's CPU, so it cannot say whether this machine's cores are the limit — measure again with the load generator on cores (or a machine) of its own before buying machines.`;
    else if (best.cpuUtilisation! < kCpuIdle)
      text = `Throughput does not grow with ${dim} and the CPU was only ${pct(best.cpuUtilisation!)} busy: the limit is neither this machine's cores nor the server's configuration — look at the load generator, the load balancer or other processes on the machine before buying machines.`;
    else
      text = `Throughput does not grow with ${dim}: the server kept ${num(cpuCores)} of ${cores} cores busy on average (${pct(best.cpuUtilisation!)}) and the load generator ran on the same cores, so on this machine another ${dim === 'replicas' ? 'replica' : dim === 'instances' ? 'instance' : 'thread'} has no core of its own. What more machines would give, this sweep cannot say — measure with the load generator on a machine of its own before buying machines.`;
    return { kind: 'unknown', text, levers: ['none'] };
  }
  const scaling = scalingLevers(a);
  if (notFilling) {
    return {
      kind: 'batches-not-filling',
      text: `Batches do not fill: under a limit of ${b.batchSizes[k]} they averaged ${num(fill)} rows (${pct(fill / b.batchSizes[k]!)}), so the batch limit is not what binds — ${scaling.length > 0 ? `the requests each cost server time that ${scaling[0] === 'vertical' ? 'more of the machine' : 'more machines'} can supply` : 'something per request is'}; a larger --max-batch-size is not a lever.`,
      levers: withModel(scaling.length > 0 ? scaling : ['none']),
    };
  }
  if (a.batchLever) {
    return {
      kind: 'batch-overhead',
      text: `Batches fill the limit and a larger one still paid: part of each batch's cost is per batch, which a larger batch shares out.`,
      levers: withModel(['batch', ...scaling]),
    };
  }
  return scalingBottleneck(a, withModel(scaling));
}

function scalingBottleneck(a: ServeAnalysis | PipelineAnalysis, levers: Lever[]): Bottleneck {
  const v = a.scaling?.verdict;
  if (!v || levers.length === 0) {
    return {
      kind: 'unknown',
      text: `The sweep measured no series along ${a.kind === 'serve' ? 'replicas, instances or threads' : 'workers'}, so it does not say what limits throughput.`,
      levers: levers.length > 0 ? levers : ['none'],
    };
  }
  const dim = a.scaling!.series.dimension;
  if (v.lever === 'vertical') {
    return {
      kind: 'room',
      text: `Nothing is saturated yet: throughput still grows with ${dim} (best ${num(v.bestX)} ${a.scaling!.series.unit} at ${v.bestN}) and this machine has room.`,
      levers,
    };
  }
  return {
    kind: 'cores',
    where: `${v.cores} cores`,
    text: `The machine's cores: throughput scales with ${dim} up to ${v.bestN} and no further on ${v.cores} cores — the work is parallel and every core is in use.`,
    levers,
  };
}

/**
 * The serial part of a pipeline from its phase times: for each phase (and the time outside the
 * phases), the seconds that Amdahl's law would call serial between N = 1 and N workers,
 * s·t₁ = (N·t_N − t₁)/(N − 1), clipped to [0, t_N]. The largest is where the serial part is.
 */
export function serialParts(
  one: { seconds: number; stageSeconds: Readonly<Record<string, number>> },
  many: { seconds: number; stageSeconds: Readonly<Record<string, number>> },
  n: number,
): { name: string; seconds: number; share: number }[] {
  const outside = (p: typeof one) =>
    Math.max(0, p.seconds - Object.values(p.stageSeconds).reduce((s, v) => s + v, 0));
  const names = Object.keys(many.stageSeconds);
  const pairs: [string, number, number][] = names.map((k) => [
    k,
    one.stageSeconds[k] ?? 0,
    many.stageSeconds[k]!,
  ]);
  pairs.push(['driver', outside(one), outside(many)]);
  return pairs
    .map(([name, t1, tn]) => {
      const serial = Math.min(tn, Math.max(0, (n * tn - t1) / (n - 1)));
      return { name, seconds: serial, share: serial / many.seconds };
    })
    .sort((p, q) => q.seconds - p.seconds);
}

function diagnosePipeline(a: PipelineAnalysis): Bottleneck {
  const memory = a.sweep.machine.memoryGiB * 1024;
  const peak = Math.max(0, ...a.sweep.points.map((p) => p.peakRssMiB ?? 0));
  if (memory > 0 && peak >= kMemoryFull * memory) {
    return {
      kind: 'memory',
      where: 'memory',
      text: `Memory: the pipeline's process peaked at ${num(peak)} MiB of the machine's ${num(memory)} MiB (${pct(peak / memory)}) — more workers here would run out of it before they ran out of cores. More machines (the bullmq executor spreads the batches and their memory) or a machine with more memory act on it.`,
      levers: ['horizontal', 'vertical'],
    };
  }
  const s = a.scaling;
  if (s && s.verdict.lever === 'serial') {
    const pts = a.sweep.points.filter(
      (p) => p.batchSize === s.batchSize && p.batches === s.batches,
    );
    const one = pts.find((p) => p.workers === 1);
    const many = pts.reduce((p, q) => (q.workers > p.workers ? q : p));
    const parts = one && many.workers > 1 ? serialParts(one, many, many.workers) : [];
    const top = parts[0];
    const speedup = `${many.workers} workers ran at ${num(s.series.x[s.series.n.indexOf(many.workers)]!)} rows/s against ${num(s.series.x[0]!)} with ${s.series.n[0]}`;
    if (!top || top.seconds === 0) {
      return {
        kind: 'serial-stage',
        text: `The work is serial (${speedup}), and the phase times do not show where.`,
        levers: ['stage'],
      };
    }
    const text = /csv|\.jsonl?|\.tsv/i.test(a.sweep.data);
    const kind: BottleneckKind =
      top.name === 'driver'
        ? 'driver'
        : kParsePhases.has(top.name) && text
          ? 'parsing'
          : 'serial-stage';
    const where =
      kind === 'driver'
        ? 'the driver (time outside the phases: start-up, scheduling, merging results)'
        : kind === 'parsing'
          ? `the "${top.name}" phase, which reads and parses ${a.sweep.data} on one thread`
          : `the "${top.name}" phase`;
    return {
      kind,
      where: kind === 'driver' ? 'driver' : top.name,
      text: `The serial part is ${where}: ${duration(top.seconds)} of the ${duration(many.seconds)} run with ${many.workers} workers (${pct(top.share)}) does not shrink with workers (${speedup}). More workers or more machines leave it as it is; make it faster or parallel (${kind === 'parsing' ? 'a binary or columnar source such as Parquet, or splitting the file so workers parse their own parts' : kind === 'driver' ? 'fewer, larger batches; less work on the driver between batches' : 'optimise that stage'}) — that alone lifts the ceiling.`,
      levers: ['stage'],
    };
  }
  if (a.batchLever) {
    return {
      kind: 'batch-overhead',
      text: `Per-batch overhead: a fixed cost per batch is a large share of each batch's time (see the batch fit), which a larger batch shares out.`,
      levers: ['batch', ...scalingLevers(a)],
    };
  }
  return scalingBottleneck(a, scalingLevers(a));
}
