/**
 * `mlscale deploy nginx|haproxy|k8s`: writes a load balancer configuration for a set of replica
 * addresses, or Kubernetes manifests, to standard output.
 *
 * @module
 */
import {
  haproxyConfig,
  kDefaultBalancerOptions,
  kDefaultKubernetesOptions,
  kubernetesManifests,
  nginxConfig,
} from '../deploy/configs.js';
import { kDefaultGrpcListenPort } from '../deploy/grpc-routing.js';
import { kDefaultKServeOptions, kserveManifests } from '../deploy/kubernetes-parts.js';
import { InvalidOptionError } from '../errors.js';
import { parseFlags, type FlagSpec } from './args.js';
import { balancerOptionsFromFlags } from './deploy-balancer.js';
import { checkReplicas, checkTokens } from './deploy-checks.js';
import { kserveOptionsFromFlags, kubernetesOptionsFromFlags } from './deploy-kubernetes.js';

export { parseReplicas } from './deploy-values.js';

const b = kDefaultBalancerOptions;
const k = kDefaultKubernetesOptions;
const ks = kDefaultKServeOptions;

export const deployHelp = `Usage: mlscale deploy nginx|haproxy --replicas HOST:PORT,... [options] > FILE
       mlscale deploy k8s --model-repository DIR [options] > mlscale.yaml
       mlscale deploy kserve --storage-uri URI [options] > mlscale-kserve.yaml

Writes a configuration for serving from many mlscale serve replicas to standard output.

nginx, haproxy: a load balancer in front of running replicas
  --replicas LIST           replica addresses, comma-separated: host:port,[v6addr]:port
  --listen [HOST:]PORT      where the balancer listens  [${b.listenPort}]
  --connect-timeout-ms MS   give up connecting to a replica, try the next  [${b.connectTimeoutMs}]
  --read-timeout-ms MS      longest a replica may take to answer; keep it above the server's
                            --request-timeout-ms so its 504 wins  [${b.readTimeoutMs}]
  --max-fails N             failures that take a replica out (nginx: passive, within
                            --fail-timeout-s; haproxy: failed health checks - 1)  [${b.maxFails}]
  --fail-timeout-s S        how long nginx leaves a failed replica out; haproxy checks
                            /v2/health/ready every S/5 seconds  [${b.failTimeoutS}]
  --tries N                 replicas one inference may try in all  [${b.tries}]
  --body-limit BYTES        largest request body (match mlscale serve --body-limit)  [${b.bodyLimit}]
  --keepalive N             idle connections kept open to the replicas  [${b.keepalive}]
  --worker-processes N      nginx worker processes, or 'auto'  [${b.workerProcesses}]
  --no-check                do not check that every replica answers /v2/health/live first
  --expose-repository-api   forward the model repository API (/v2/repository/...: load, unload)
                            to the replicas; checks that every replica requires --admin-token
                            (unless --no-check). By default the balancer answers it 403, since
                            a replica without a token would take it from anyone  [blocked]
  --grpc-replicas LIST      also route gRPC: the replicas' --grpc-port addresses, one per
                            --replicas entry, in the same order (its HTTP address is its health check)
  --grpc-listen PORT        where the balancer takes gRPC (HTTP/2 without TLS)  [${kDefaultGrpcListenPort}]

k8s: a PersistentVolumeClaim for the model repository, a Deployment, a Service, a
     PodDisruptionBudget and a HorizontalPodAutoscaler
  --model-repository DIR    where the repository is mounted in the container (the image's is /models)
  --image IMAGE             container image with mlscale installed  [${k.image}]
  --name NAME               name of the Deployment, Service and HPA  [${k.name}]
  --replicas N              initial replicas  [${k.replicas}]
  --min-replicas N          HPA minimum  [${k.minReplicas}]
  --max-replicas N          HPA maximum  [${k.maxReplicas}]
  --cpu CORES               CPU request per pod; threads follow it  [${k.cpu}]
  --memory-mib MIB          memory request and limit per pod  [${k.memoryMiB}]
  --target-cpu-percent P    HPA target CPU utilisation  [${k.targetCpuPercent}]
  --unready-delay-ms MS     preStop sleep while the pod leaves the Service's endpoints  [${k.unreadyDelayMs}]
  --grace-period-ms MS      the server's drain after SIGTERM  [${k.gracePeriodMs}]
  --repository-claim NAME   mount this existing PersistentVolumeClaim instead of creating
                            <name>-models
  --repository-size-gib N   size of the claim created  [${k.repositorySizeGiB}]

kserve: a KServe ServingRuntime (ONNX, protocol v2) and an InferenceService using it
  --storage-uri URI         the model repository for KServe's storage initializer
                            (s3://..., gs://..., pvc://claim/path)
  --name NAME               the ServingRuntime's name  [${ks.name}]
  --service-name NAME       the InferenceService's name  [${ks.serviceName}]
  --image IMAGE             container image  [${ks.image}]
  --cpu CORES, --memory-mib MIB   per pod  [${ks.cpu}, ${ks.memoryMiB}]
  -h, --help                this help`;

const flags: FlagSpec = {
  replicas: { type: 'string' },
  listen: { type: 'string' },
  'connect-timeout-ms': { type: 'string' },
  'read-timeout-ms': { type: 'string' },
  'max-fails': { type: 'string' },
  'fail-timeout-s': { type: 'string' },
  tries: { type: 'string' },
  'body-limit': { type: 'string' },
  keepalive: { type: 'string' },
  'worker-processes': { type: 'string' },
  'no-check': { type: 'boolean' },
  'expose-repository-api': { type: 'boolean' },
  'grpc-replicas': { type: 'string' },
  'grpc-listen': { type: 'string' },
  'model-repository': { type: 'string' },
  image: { type: 'string' },
  name: { type: 'string' },
  'min-replicas': { type: 'string' },
  'max-replicas': { type: 'string' },
  cpu: { type: 'string' },
  'memory-mib': { type: 'string' },
  'target-cpu-percent': { type: 'string' },
  'unready-delay-ms': { type: 'string' },
  'grace-period-ms': { type: 'string' },
  'repository-claim': { type: 'string' },
  'repository-size-gib': { type: 'string' },
  'storage-uri': { type: 'string' },
  'service-name': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const kTargets = ['nginx', 'haproxy', 'k8s', 'kserve'];
const balancerOnly = [
  'listen',
  'connect-timeout-ms',
  'read-timeout-ms',
  'max-fails',
  'fail-timeout-s',
  'tries',
  'body-limit',
  'keepalive',
  'worker-processes',
  'no-check',
  'expose-repository-api',
  'grpc-replicas',
  'grpc-listen',
];
const k8sOnly = [
  'model-repository',
  'image',
  'name',
  'min-replicas',
  'max-replicas',
  'cpu',
  'memory-mib',
  'target-cpu-percent',
  'unready-delay-ms',
  'grace-period-ms',
  'repository-claim',
  'repository-size-gib',
];
const kserveFlags = ['storage-uri', 'service-name', 'name', 'image', 'cpu', 'memory-mib'];

/** Runs `mlscale deploy`; writes the configuration to stdout. */
export async function deployCommand(argv: string[]): Promise<number> {
  const [target, ...rest] = argv;
  if (target === '--help' || target === '-h' || target === undefined) {
    process.stdout.write(deployHelp + '\n');
    return target === undefined ? 2 : 0;
  }
  if (!kTargets.includes(target)) {
    throw new InvalidOptionError(
      `mlscale deploy: the target must be one of ${kTargets.join(', ')}, got ${JSON.stringify(target)}`,
    );
  }
  const v = parseFlags('deploy', rest, flags);
  if (v.help) {
    process.stdout.write(deployHelp + '\n');
    return 0;
  }
  const wrong =
    target === 'kserve'
      ? Object.keys(flags).find(
          (f) => f !== 'help' && !kserveFlags.includes(f) && v[f] !== undefined,
        )
      : (target === 'k8s'
          ? [...balancerOnly, 'storage-uri', 'service-name']
          : [...k8sOnly, 'storage-uri', 'service-name']
        ).find((f) => v[f] !== undefined);
  if (wrong !== undefined)
    throw new InvalidOptionError(
      `--${wrong} does not apply to 'mlscale deploy ${target}' (see --help)`,
    );

  if (target === 'kserve') {
    process.stdout.write(kserveManifests(kserveOptionsFromFlags(v)));
    return 0;
  }

  if (target === 'k8s') {
    process.stdout.write(kubernetesManifests(kubernetesOptionsFromFlags(v)));
    return 0;
  }

  const config = balancerOptionsFromFlags(target, v);
  const replicas = config.replicas;
  const expose = config.exposeRepositoryApi;
  if (v['no-check'] !== true) {
    await checkReplicas(replicas);
    if (expose) await checkTokens(replicas);
  }
  process.stdout.write(target === 'nginx' ? nginxConfig(config) : haproxyConfig(config));
  // Said on stderr, so that the configuration on stdout stays a file of its own.
  process.stderr.write(
    expose
      ? `mlscale deploy ${target}: the model repository API (/v2/repository/...) is forwarded to the replicas (--expose-repository-api)${v['no-check'] === true ? '; not checked (--no-check): every replica must require --admin-token' : ', which all require --admin-token'}\n`
      : `mlscale deploy ${target}: the model repository API (/v2/repository/...: load, unload) is blocked at the balancer (403); call a replica directly, or see --expose-repository-api\n`,
  );
  return 0;
}
