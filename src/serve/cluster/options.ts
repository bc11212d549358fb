/**
 * Options of several serving processes on one host (`serve({ replicas })`, `mlscale serve
 * --replicas`), their defaults, and their validation.
 *
 * @module
 */
import { hostCores } from '../../util/host-cores.js';
import { InvalidOptionError } from '../../errors.js';
import { checkInteger, dropUndefined, invalidOption } from '../../util/options.js';
import { resolveAutoscalerConfig, type AutoscalerConfig } from '../autoscaler.js';

/** The autoscaler's settings a caller may give (the rest the primary derives from the host). */
export type AutoscalerSettings = Omit<AutoscalerConfig, 'cores' | 'threadsPerInstance'>;

/** How many serving processes run, and how they scale. */
export interface ReplicaOptions {
  /** A fixed count, or `auto`: the autoscaler decides within `autoscaler.minReplicas` and `maxReplicas`. */
  readonly replicas?: number | 'auto';
  /** Replicas kept loaded but not listening, to replace a dead one at once. */
  readonly spareReplicas?: number;
  /** With `replicas: 'auto'`: the autoscaler's bounds, target and delays. */
  readonly autoscaler?: Readonly<Partial<AutoscalerSettings>>;
}

/** Replica options, filled: undefined from `resolveReplicaOptions` means one process. */
export interface FilledReplicaOptions {
  readonly replicas: number | 'auto';
  readonly spareReplicas: number;
  /** With `auto`, the autoscaler's settings, validated (on this host's cores). */
  readonly autoscaler?: AutoscalerConfig;
}

export const kDefaultReplicaOptions = {
  spareReplicas: 1,
} as const;

/** The autoscaler's bounds unless given: from one replica up to one per core. */
export function defaultAutoscalerBounds(
  cores = hostCores().cores,
): Pick<AutoscalerSettings, 'minReplicas' | 'maxReplicas'> {
  return { minReplicas: 1, maxReplicas: Math.max(1, cores) };
}

/** The autoscaler's settings, in the order they are checked and named. */
const kAutoscalerKeys: readonly (keyof AutoscalerSettings)[] = [
  'minReplicas',
  'maxReplicas',
  'targetOngoingRequests',
  'upscaleDelayMs',
  'downscaleDelayMs',
  'smoothingWindowMs',
  'cpuIdleThreshold',
  'panicWindowMs',
  'panicThreshold',
  'minInstancesPerReplica',
  'maxInstancesPerReplica',
  'peakReplicas',
];

/**
 * Validates and fills replica options; undefined without `replicas` (one process), after checking
 * that no replica setting was given without it.
 * @throws {InvalidOptionError} naming the option (`options.replicas must be an integer from 1 to 256, or "auto", got 0`).
 */
export function resolveReplicaOptions(
  options: ReplicaOptions,
  cores = hostCores().cores,
): Readonly<FilledReplicaOptions> | undefined {
  const given = dropUndefined(options);
  const autoscaler = dropUndefined(given.autoscaler ?? {});
  if (
    given.autoscaler !== undefined &&
    (given.autoscaler === null || typeof given.autoscaler !== 'object')
  )
    invalidOption('autoscaler', 'an object of autoscaler settings', given.autoscaler);
  const autoKeys = kAutoscalerKeys.filter((k) => k in autoscaler);
  const unknown = Object.keys(autoscaler).filter(
    (k) => !(kAutoscalerKeys as readonly string[]).includes(k),
  );
  if (unknown.length > 0)
    invalidOption(
      `autoscaler.${unknown[0]}`,
      `left out: the autoscaler's settings are ${kAutoscalerKeys.join(', ')}`,
      autoscaler[unknown[0] as keyof AutoscalerSettings],
    );
  const { replicas } = given;
  if (replicas === undefined) {
    if (autoKeys.length > 0)
      throw new InvalidOptionError(
        `options.autoscaler.${autoKeys[0]} applies only with options.replicas auto`,
        { option: `autoscaler.${autoKeys[0]}` },
      );
    if (given.spareReplicas !== undefined)
      throw new InvalidOptionError('options.spareReplicas applies only with options.replicas', {
        option: 'spareReplicas',
      });
    return undefined;
  }
  const spareReplicas = given.spareReplicas ?? kDefaultReplicaOptions.spareReplicas;
  checkInteger('spareReplicas', spareReplicas, 0, 16);
  if (replicas === 'auto') {
    const config = resolveAutoscalerConfig(
      { ...defaultAutoscalerBounds(cores), ...autoscaler },
      'autoscaler.',
    );
    return Object.freeze({ replicas, spareReplicas, autoscaler: config });
  }
  if (autoKeys.length > 0) {
    throw new InvalidOptionError(
      `options.autoscaler.${autoKeys[0]} applies only with options.replicas auto, not a fixed options.replicas ${JSON.stringify(replicas)}`,
      { option: `autoscaler.${autoKeys[0]}` },
    );
  }
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 1 || replicas > 256)
    invalidOption('replicas', 'an integer from 1 to 256, or "auto"', replicas);
  return Object.freeze({ replicas, spareReplicas });
}
