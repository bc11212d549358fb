/**
 * The autoscaling policy's settings (see autoscaler.ts for the policy): their defaults and
 * validation, and the bounds the host puts on them — the most replicas it runs, and the most
 * instances per replica that keep instances × threads × replicas within its cores.
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { InvalidOptionError } from '../errors.js';
import { checkInteger, checkPositive, dropUndefined, invalidOption } from '../util/options.js';

/** The policy's settings. */
export interface AutoscalerConfig {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** Ongoing (queued + running) requests one replica should hold on average. */
  readonly targetOngoingRequests: number;
  /** How long the desired count must stay above the current one before scaling up, in ms. */
  readonly upscaleDelayMs: number;
  /** How long the desired count must stay below the current one before scaling down, in ms. */
  readonly downscaleDelayMs: number;
  /** Signals are averaged over this window, in ms. */
  readonly smoothingWindowMs: number;
  /** The short window of the spike (panic) rule, in ms. */
  readonly panicWindowMs: number;
  /** The spike rule fires when the short window asks for this many times the current replicas. */
  readonly panicThreshold: number;
  readonly minInstancesPerReplica: number;
  readonly maxInstancesPerReplica: number;
  /** Mean CPU idle fraction (0–1) above which a growing queue calls for another instance, not a replica. */
  readonly cpuIdleThreshold: number;
  /** CPU cores of the host: replicas × instances per replica × `threadsPerInstance` stay within them. */
  readonly cores: number;
  /** The fewest intra-op threads an instance runs with: 1, or what the user fixed with --intra-op-threads. */
  readonly threadsPerInstance: number;
  /**
   * The replica count at which a sweep of this host measured peak throughput: the autoscaler does
   * not pass it. Undefined: the cores alone bound the replicas.
   */
  readonly peakReplicas?: number;
}

export const kDefaultAutoscalerConfig: AutoscalerConfig = {
  minReplicas: 1,
  maxReplicas: 4,
  targetOngoingRequests: 8,
  upscaleDelayMs: 3_000,
  downscaleDelayMs: 30_000,
  smoothingWindowMs: 10_000,
  panicWindowMs: 3_000,
  panicThreshold: 2,
  minInstancesPerReplica: 1,
  maxInstancesPerReplica: 4,
  cpuIdleThreshold: 0.5,
  cores: availableParallelism(), // this machine's
  threadsPerInstance: 1,
};

/**
 * Validates settings (partial ones are filled with the defaults). Messages name the options as
 * the caller wrote them: `options.minReplicas`, or under `at` (`options.autoscaler.minReplicas`
 * for the `autoscaler` of the replicas' options).
 */
export function resolveAutoscalerConfig(
  partial: Partial<AutoscalerConfig>,
  at = '',
): AutoscalerConfig {
  const c: AutoscalerConfig = { ...kDefaultAutoscalerConfig, ...dropUndefined(partial) };
  const name = (key: keyof AutoscalerConfig): string => `${at}${key}`;
  checkInteger(name('minReplicas'), c.minReplicas, 1, 256);
  checkInteger(name('maxReplicas'), c.maxReplicas, 1, 256);
  if (c.minReplicas > c.maxReplicas) {
    throw new InvalidOptionError(
      `options.${name('minReplicas')} (${c.minReplicas}) must not be above options.${name('maxReplicas')} (${c.maxReplicas})`,
      { option: name('minReplicas') },
    );
  }
  checkPositive(name('targetOngoingRequests'), c.targetOngoingRequests);
  nonNegative(name('upscaleDelayMs'), c.upscaleDelayMs);
  nonNegative(name('downscaleDelayMs'), c.downscaleDelayMs);
  checkPositive(name('smoothingWindowMs'), c.smoothingWindowMs);
  checkPositive(name('panicWindowMs'), c.panicWindowMs);
  if (!(c.panicThreshold > 1))
    invalidOption(name('panicThreshold'), 'a number above 1', c.panicThreshold);
  checkInteger(name('minInstancesPerReplica'), c.minInstancesPerReplica, 1, 256);
  checkInteger(
    name('maxInstancesPerReplica'),
    c.maxInstancesPerReplica,
    c.minInstancesPerReplica,
    256,
  );
  if (
    typeof c.cpuIdleThreshold !== 'number' ||
    !(c.cpuIdleThreshold >= 0 && c.cpuIdleThreshold <= 1)
  )
    invalidOption(name('cpuIdleThreshold'), 'a number from 0 to 1', c.cpuIdleThreshold);
  checkInteger(name('cores'), c.cores, 1, 65_536);
  checkInteger(name('threadsPerInstance'), c.threadsPerInstance, 1, 256);
  if (c.peakReplicas !== undefined) checkInteger(name('peakReplicas'), c.peakReplicas, 1, 256);
  return Object.freeze(c);
}

/**
 * The most replicas this host runs: its cores ÷ (intra-op threads × the fewest instances per
 * replica), at least 1, and not past the measured scaling peak when one is given.
 */
export function hostReplicaLimit(config: AutoscalerConfig): number {
  const byCores = Math.max(
    1,
    Math.floor(config.cores / (config.threadsPerInstance * config.minInstancesPerReplica)),
  );
  return config.peakReplicas !== undefined ? Math.min(byCores, config.peakReplicas) : byCores;
}

/** Why the host runs at most hostReplicaLimit replicas, in words. */
export function hostLimitWords(config: AutoscalerConfig): string {
  const limit = hostReplicaLimit(config);
  const byCores = `${config.cores} cores ÷ (${config.threadsPerInstance} thread(s) × ${config.minInstancesPerReplica} instance(s) per replica)`;
  return config.peakReplicas !== undefined && config.peakReplicas === limit
    ? `the scaling peak a sweep measured on it${limit < Math.floor(config.cores / (config.threadsPerInstance * config.minInstancesPerReplica)) ? `, below ${byCores}` : ''}`
    : byCores;
}

/** The replicas the policy may run: maxReplicas held to the host (minReplicas can force more). */
export function replicaCeiling(config: AutoscalerConfig): number {
  return Math.max(config.minReplicas, Math.min(config.maxReplicas, hostReplicaLimit(config)));
}

/**
 * The most instances each of `replicas` replicas may run: instances × `threadsPerInstance` ×
 * replicas within `cores`, and within min and max instances per replica (min wins).
 */
export function instanceCap(config: AutoscalerConfig, replicas: number): number {
  const fit = Math.floor(config.cores / (Math.max(1, replicas) * config.threadsPerInstance));
  return Math.max(config.minInstancesPerReplica, Math.min(config.maxInstancesPerReplica, fit));
}

function nonNegative(option: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    invalidOption(option, 'a number from 0 up', v);
}
