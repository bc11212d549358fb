/**
 * `mlscale deploy k8s|kserve`: the Kubernetes and KServe options from the command's flags, each
 * checked.
 *
 * @module
 */
import { kDefaultKubernetesOptions as k, type KubernetesOptions } from '../deploy/configs.js';
import { kDefaultKServeOptions as ks, type KServeOptions } from '../deploy/kubernetes-parts.js';
import { InvalidOptionError } from '../errors.js';
import { numberFlag, textFlag } from './args.js';
import { dnsName, integer, nonEmpty, positive } from './deploy-values.js';

/** The options of `mlscale deploy kserve`. */
export function kserveOptionsFromFlags(
  v: Record<string, string | boolean | undefined>,
): KServeOptions {
  const storageUri = textFlag(v['storage-uri']);
  if (storageUri === undefined || !/^[a-z][a-z0-9+.-]*:\/\/\S+$/.test(storageUri))
    throw new InvalidOptionError(
      `mlscale deploy kserve needs --storage-uri URI (s3://bucket/models, gs://..., pvc://claim/path: a model repository), got ${JSON.stringify(storageUri ?? '')}`,
    );
  return {
    ...ks,
    storageUri,
    name: dnsName(textFlag(v.name) ?? ks.name),
    serviceName: dnsName(textFlag(v['service-name']) ?? ks.serviceName, '--service-name'),
    image: nonEmpty('--image', textFlag(v.image) ?? ks.image),
    cpu: positive('--cpu', numberFlag(v.cpu) ?? ks.cpu),
    memoryMiB: integer('--memory-mib', numberFlag(v['memory-mib']) ?? ks.memoryMiB, 256, 1 << 22),
  };
}

/** The options of `mlscale deploy k8s`. */
export function kubernetesOptionsFromFlags(
  v: Record<string, string | boolean | undefined>,
): KubernetesOptions {
  const repo = textFlag(v['model-repository']);
  if (repo === undefined || repo === '')
    throw new InvalidOptionError(
      'mlscale deploy k8s needs --model-repository DIR (its path inside the container)',
    );
  const o = {
    ...k,
    modelRepository: repo,
    image: nonEmpty('--image', textFlag(v.image) ?? k.image),
    name: dnsName(textFlag(v.name) ?? k.name),
    replicas: integer('--replicas', numberFlag(v.replicas) ?? k.replicas, 1, 1000),
    minReplicas: integer('--min-replicas', numberFlag(v['min-replicas']) ?? k.minReplicas, 1, 1000),
    maxReplicas: integer('--max-replicas', numberFlag(v['max-replicas']) ?? k.maxReplicas, 1, 1000),
    cpu: positive('--cpu', numberFlag(v.cpu) ?? k.cpu),
    memoryMiB: integer('--memory-mib', numberFlag(v['memory-mib']) ?? k.memoryMiB, 256, 1 << 22),
    ...(textFlag(v['repository-claim']) !== undefined
      ? { repositoryClaim: dnsName(textFlag(v['repository-claim'])!, '--repository-claim') }
      : {}),
    repositorySizeGiB: integer(
      '--repository-size-gib',
      numberFlag(v['repository-size-gib']) ?? k.repositorySizeGiB,
      1,
      1 << 20,
    ),
    targetCpuPercent: integer(
      '--target-cpu-percent',
      numberFlag(v['target-cpu-percent']) ?? k.targetCpuPercent,
      1,
      100,
    ),
    unreadyDelayMs: integer(
      '--unready-delay-ms',
      numberFlag(v['unready-delay-ms']) ?? k.unreadyDelayMs,
      0,
      600_000,
    ),
    gracePeriodMs: integer(
      '--grace-period-ms',
      numberFlag(v['grace-period-ms']) ?? k.gracePeriodMs,
      0,
      3_600_000,
    ),
  };
  if (o.minReplicas > o.maxReplicas)
    throw new InvalidOptionError(
      `--min-replicas (${o.minReplicas}) must not be above --max-replicas (${o.maxReplicas})`,
    );
  return o;
}
