/**
 * Throughput against concurrency (replicas, instances, workers) on one machine: the fits and the
 * verdict the advisor draws from them — vertical (more of it on this machine) while throughput
 * still grows and the CPU has room, horizontal (more machines) once it does not.
 *
 * @module
 */
import {
  amdahlFit,
  amdahlSpeedup,
  uslFit,
  uslThroughput,
  type AmdahlFit,
  type UslFit,
} from './fit.js';
import { num, pct, ratio } from './format.js';

/** A step must gain this much to count as "still scaling" (run-to-run noise here is 10–30%, BENCHMARKS.md). */
export const kScalingGain = 1.1;
/** CPU utilisation (0..1) from which the machine counts as saturated. */
export const kCpuSaturated = 0.85;
/** CPU utilisation (0..1) below which a throughput limit cannot be the machine's cores. */
export const kCpuIdle = 0.5;

/** Throughput measured at several concurrency levels, everything else fixed. */
export interface ScalingSeries {
  /** What N counts, in the plural: 'replicas', 'instances', 'workers'. */
  readonly dimension: string;
  /** The unit of x, e.g. 'req/s at the SLO', 'rows/s'. */
  readonly unit: string;
  /** The settings held fixed, in words. */
  readonly fixed: string;
  /** N, ascending and distinct. */
  readonly n: readonly number[];
  /** Throughput at each N. */
  readonly x: readonly number[];
  /** CPU utilisation (0..1) at each N, when measured. */
  readonly cpu: readonly (number | null)[];
  /** How more machines are joined up, in words (e.g. 'behind a load balancer'). */
  readonly spread: string;
}

/** `1 replica`, `2 replicas`: `dimension` is the plural. */
export function units(count: number, dimension: string): string {
  return `${num(count)} ${count === 1 ? dimension.replace(/s$/, '') : dimension}`;
}

/** What the series says. */
export interface ScalingVerdict {
  /**
   * vertical: more on this machine; horizontal: more machines; serial: neither — throughput does
   * not grow with N within the cores (Amdahl's speedup at the core count under kScalingGain), so
   * the serial part, not the number of machines, is what limits it.
   */
  readonly lever: 'vertical' | 'horizontal' | 'serial';
  /** N of the highest throughput, and that throughput. */
  readonly bestN: number;
  readonly bestX: number;
  /** Logical CPUs of the machine measured. */
  readonly cores: number;
  /** USL over all points; undefined (with usl Error) when it cannot be fitted. */
  readonly usl?: UslFit;
  readonly uslError?: string;
  /** Amdahl over the points with N ≤ cores (needs N = 1): the basis for predicting bigger machines. */
  readonly amdahlInCores?: AmdahlFit;
  /** Sentences, each with the numbers behind it. */
  readonly statements: readonly string[];
}

/** Judges a series measured on a machine with `cores` CPUs. */
export function judgeScaling(series: ScalingSeries, cores: number): ScalingVerdict {
  const { n, x, dimension: dim, unit } = series;
  const at = (i: number): string => `${units(n[i]!, dim)}: ${num(x[i]!)} ${unit}`;
  let best = 0;
  for (let i = 1; i < n.length; i++) if (x[i]! > x[best]!) best = i;
  const statements: string[] = [];
  const steps = n
    .map((v, i) => (i === 0 ? '' : `${v} ${ratio(x[i]! / x[i - 1]!)}`))
    .filter(Boolean);
  statements.push(
    `Throughput against ${dim} (${series.fixed}): ${n.map((_, i) => at(i)).join('; ')} (step by step: ${steps.join(', ')}).`,
  );

  let usl: UslFit | undefined;
  let uslError: string | undefined;
  try {
    usl = uslFit(n, x);
  } catch (err) {
    uslError = (err as Error).message;
  }
  if (usl) {
    const params = `λ = ${num(usl.lambda)} ${unit} per unit, σ = ${usl.sigma.toFixed(3)} (contention), κ = ${usl.kappa.toFixed(4)} (coherency)`;
    const beyond = Math.max(...n) * 2;
    if (usl.underDetermined) {
      statements.push(
        `USL fit over ${usl.points} distinct ${dim}: ${params}. With ${usl.points} points and 3 parameters the fit is under-determined — it passes through any ${usl.points} points — so its peak and predictions are not findings; measure more ${dim} levels to test them.`,
      );
    } else {
      const peak = Number.isFinite(usl.peakN)
        ? `peak at N* = sqrt((1 − σ)/κ) = ${num(usl.peakN)} ${dim} (${num(usl.peakX)} ${unit})`
        : `no peak (κ ≈ 0): throughput approaches λ/σ = ${num(usl.peakX)} ${unit}`;
      statements.push(
        `USL fit over ${usl.points} ${dim} levels: ${params}, R² = ${usl.r2.toFixed(3)}; ${peak}; beyond the measured range it predicts ${num(uslThroughput(usl, beyond))} ${unit} at ${beyond} ${dim}.`,
      );
    }
  } else {
    statements.push(`No USL fit: ${uslError}.`);
  }

  let amdahlInCores: AmdahlFit | undefined;
  const inCores = n.map((v, i) => [v, x[i]!] as const).filter(([v]) => v <= cores);
  if (inCores.some(([v]) => v === 1) && inCores.length >= 2) {
    amdahlInCores = amdahlFit(
      inCores.map(([v]) => v),
      inCores.map(([, v]) => v),
    );
    statements.push(
      `Within the machine's ${cores} cores (${inCores.map(([v]) => v).join(', ')} ${dim}), Amdahl's serial fraction is s = ${amdahlInCores.serialFraction.toFixed(3)}: a speedup of at most ${ratio(amdahlInCores.maxSpeedup)} however many cores, ${ratio(amdahlSpeedup(amdahlInCores.serialFraction, cores))} at ${cores}.`,
    );
  }

  const maxN = n[n.length - 1]!;
  const bestN = n[best]!;
  const bestX = x[best]!;
  const cpu = series.cpu[best] ?? null;
  const lastGain = best > 0 ? bestX / x[best - 1]! : Infinity;
  const cpuText = cpu === null ? 'CPU not measured' : `CPU ${pct(cpu)} busy`;
  const uslRoom = usl !== undefined && !usl.underDetermined && usl.peakN > maxN * 1.25;
  const growing = bestN === maxN && lastGain >= kScalingGain;
  // Room on this machine: idle cores, or a CPU measured below saturation. At the core count with the
  // CPU unmeasured, more processes would only share the cores, so the machine has no room.
  const room = bestN < cores || (cpu !== null && cpu < kCpuSaturated);
  const vertical = (growing || uslRoom) && room && (cpu === null || cpu < kCpuSaturated);
  // Serial: within the cores, more N bought (almost) nothing — whatever more machines would add,
  // the same serial part would cap them too.
  const serial =
    !vertical &&
    (cpu === null || cpu < kCpuSaturated) &&
    amdahlInCores !== undefined &&
    amdahlSpeedup(amdahlInCores.serialFraction, Math.min(cores, maxN)) < kScalingGain &&
    bestX / x[0]! < kScalingGain;
  if (serial) {
    statements.push(
      `The work is serial: within the machine's ${cores} cores throughput does not grow with ${dim} (${at(0)}, best ${at(best)}; Amdahl's s = ${amdahlInCores!.serialFraction.toFixed(3)}), so neither more ${dim} here nor more machines would raise it — the serial part must be found and made faster or parallel first.`,
    );
    if (cpu !== null && cpu < kCpuIdle)
      statements.push(
        `Caution: the CPU was only ${pct(cpu)} busy at the peak, so the limit was not this machine's cores but something else — the load generator, other processes on the machine, I/O or a lock.`,
      );
  } else if (vertical) {
    const upTo = bestN < cores ? cores : maxN * 2;
    statements.push(
      `Vertical is the lever: throughput still grows at the largest N measured (${at(best)}, ${ratio(lastGain)} the step before) and the machine has room (${cpuText}${bestN < cores ? `; ${bestN} of ${cores} cores used` : ''})${uslRoom ? `, and the USL's peak N* = ${num(usl!.peakN)} lies beyond it` : ''}. Add ${dim} on this machine (try up to ${upTo}) and measure again.`,
    );
  } else if (growing) {
    const more = amdahlInCores
      ? ` Amdahl's s = ${amdahlInCores.serialFraction.toFixed(3)} predicts ${ratio(amdahlSpeedup(amdahlInCores.serialFraction, cores * 4) / amdahlSpeedup(amdahlInCores.serialFraction, cores))} of this machine's throughput from ${cores * 4} cores.`
      : '';
    statements.push(
      `Horizontal is the lever: throughput grows all the way to the machine's ${cores} cores (${at(best)}, ${ratio(lastGain)} the step before), so the work scales with cores — but all ${cores} are in use (${cpuText}), and more ${dim} here would only share them. Add machines of this size, each running ${units(bestN, dim)}, ${series.spread}; a bigger machine is the vertical alternative (see the costs).${more}`,
    );
  } else {
    const after = n.map((v, i) => [v, x[i]!] as const).filter(([v]) => v > bestN);
    const fall =
      after.length > 0
        ? `; beyond it ${after.map(([v, xv]) => `${units(v, dim)} give ${num(xv)} (${ratio(xv / bestX)})`).join(', ')}`
        : '';
    const why =
      bestN > cores
        ? `throughput is highest at ${at(best)}, past the machine's ${cores} cores and only ${ratio(lastGain)} above ${units(n[best - 1]!, dim)}${fall}`
        : bestN === cores
          ? `throughput peaks at ${at(best)} — the machine's ${cores} cores${fall}`
          : `throughput stops growing at ${at(best)}, below the ${cores} cores${fall}`;
    const extra =
      after.length > 0
        ? ' Extra processes on this machine only add overhead: they share the same cores.'
        : '';
    statements.push(
      `Horizontal is the lever: ${why}; ${cpuText} at the peak.${extra} Add machines of this size, each running ${units(bestN, dim)}, ${series.spread}.`,
    );
    if (cpu !== null && cpu < kCpuIdle) {
      statements.push(
        `Caution: the CPU was only ${pct(cpu)} busy at the peak, so the limit was not this machine's cores but something else — the load generator, other processes on the machine, I/O or a lock. More machines help only if that limit is per machine; find it before buying them.`,
      );
    }
  }
  return {
    lever: serial ? 'serial' : vertical ? 'vertical' : 'horizontal',
    bestN,
    bestX,
    cores,
    ...(usl ? { usl } : {}),
    ...(uslError ? { uslError } : {}),
    ...(amdahlInCores ? { amdahlInCores } : {}),
    statements,
  };
}

/**
 * Throughput a machine of `cpus` cores is predicted to give, from one of `cores` cores that gave
 * `measured`: Amdahl's law with the serial fraction fitted within the measured cores. Not a
 * measurement: the report says so wherever it uses one.
 */
export function predictForCores(
  measured: number,
  cores: number,
  cpus: number,
  amdahl: AmdahlFit | undefined,
): { x: number; basis: string } {
  if (cpus === cores) return { x: measured, basis: 'measured' };
  if (amdahl) {
    const s = amdahl.serialFraction;
    return {
      x: (measured * amdahlSpeedup(s, cpus)) / amdahlSpeedup(s, cores),
      basis: `predicted by Amdahl (s = ${s.toFixed(3)}) from the ${cores}-core measurement`,
    };
  }
  return {
    x: (measured * cpus) / cores,
    basis: `predicted as linear in cores from the ${cores}-core measurement (optimistic: no N = 1 point to fit Amdahl)`,
  };
}
