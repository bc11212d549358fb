/**
 * `mlscale deploy nginx|haproxy|k8s`: writes a load balancer configuration for a set of replica
 * addresses, or Kubernetes manifests, to standard output.
 *
 * @module
 */
import { request } from 'node:http';
import { isIP } from 'node:net';
import {
  haproxyConfig,
  kDefaultBalancerOptions,
  kDefaultKubernetesOptions,
  kubernetesManifests,
  nginxConfig,
  formatAddress,
  type BalancerOptions,
  type ReplicaAddress,
} from '../deploy/configs.js';
import { kDefaultGrpcListenPort, type GrpcRouting } from '../deploy/grpc-routing.js';
import { kDefaultKServeOptions, kserveManifests } from '../deploy/kubernetes-parts.js';
import { InvalidOptionError } from '../errors.js';
import { numberFlag, parseFlags, textFlag, type FlagSpec } from './args.js';

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
    const storageUri = textFlag(v['storage-uri']);
    if (storageUri === undefined || !/^[a-z][a-z0-9+.-]*:\/\/\S+$/.test(storageUri))
      throw new InvalidOptionError(
        `mlscale deploy kserve needs --storage-uri URI (s3://bucket/models, gs://..., pvc://claim/path: a model repository), got ${JSON.stringify(storageUri ?? '')}`,
      );
    process.stdout.write(
      kserveManifests({
        ...ks,
        storageUri,
        name: dnsName(textFlag(v.name) ?? ks.name),
        serviceName: dnsName(textFlag(v['service-name']) ?? ks.serviceName, '--service-name'),
        image: nonEmpty('--image', textFlag(v.image) ?? ks.image),
        cpu: positive('--cpu', numberFlag(v.cpu) ?? ks.cpu),
        memoryMiB: integer(
          '--memory-mib',
          numberFlag(v['memory-mib']) ?? ks.memoryMiB,
          256,
          1 << 22,
        ),
      }),
    );
    return 0;
  }

  if (target === 'k8s') {
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
      minReplicas: integer(
        '--min-replicas',
        numberFlag(v['min-replicas']) ?? k.minReplicas,
        1,
        1000,
      ),
      maxReplicas: integer(
        '--max-replicas',
        numberFlag(v['max-replicas']) ?? k.maxReplicas,
        1,
        1000,
      ),
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
    process.stdout.write(kubernetesManifests(o));
    return 0;
  }

  const replicasText = textFlag(v.replicas);
  if (replicasText === undefined)
    throw new InvalidOptionError(
      `mlscale deploy ${target} needs --replicas HOST:PORT,... (the addresses of running mlscale serve replicas)`,
    );
  const replicas = parseReplicas(replicasText);
  const listen = parseListen(textFlag(v.listen));
  const workers = textFlag(v['worker-processes']);
  let o: BalancerOptions = {
    ...b,
    replicas,
    listenPort: listen.port,
    listenHost: listen.host,
    connectTimeoutMs: integer(
      '--connect-timeout-ms',
      numberFlag(v['connect-timeout-ms']) ?? b.connectTimeoutMs,
      1,
      600_000,
    ),
    readTimeoutMs: integer(
      '--read-timeout-ms',
      numberFlag(v['read-timeout-ms']) ?? b.readTimeoutMs,
      1,
      3_600_000,
    ),
    maxFails: integer('--max-fails', numberFlag(v['max-fails']) ?? b.maxFails, 1, 100),
    failTimeoutS: integer(
      '--fail-timeout-s',
      numberFlag(v['fail-timeout-s']) ?? b.failTimeoutS,
      1,
      3600,
    ),
    tries: integer('--tries', numberFlag(v.tries) ?? b.tries, 1, 100),
    bodyLimit: integer('--body-limit', numberFlag(v['body-limit']) ?? b.bodyLimit, 1024, 2 ** 31),
    keepalive: integer('--keepalive', numberFlag(v.keepalive) ?? b.keepalive, 1, 100_000),
    workerProcesses:
      workers === undefined || workers === 'auto'
        ? 'auto'
        : integer('--worker-processes', numberFlag(workers), 1, 1024),
  };
  const expose = v['expose-repository-api'] === true;
  const grpc = grpcRouting(v, replicas, o.listenPort);
  const config = { ...o, exposeRepositoryApi: expose, ...(grpc ? { grpc } : {}) };
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

/** Parses `host:port,[v6]:port,...`; every part must have a host and a port from 1 to 65535. */
/** The gRPC routing the flags ask for, checked against the HTTP replicas; undefined: none. */
function grpcRouting(
  v: Record<string, unknown>,
  replicas: readonly ReplicaAddress[],
  httpListenPort: number,
): GrpcRouting | undefined {
  const text = textFlag(v['grpc-replicas'] as string | undefined);
  const listenText = textFlag(v['grpc-listen'] as string | undefined);
  if (text === undefined) {
    if (listenText !== undefined)
      throw new InvalidOptionError(
        "--grpc-listen needs --grpc-replicas (the replicas' --grpc-port addresses)",
      );
    return undefined;
  }
  const grpcReplicas = parseReplicas(text, '--grpc-replicas');
  if (grpcReplicas.length !== replicas.length)
    throw new InvalidOptionError(
      `--grpc-replicas must list one address per --replicas entry, in the same order: expected ${replicas.length}, got ${grpcReplicas.length}`,
    );
  const listenPort = integer(
    '--grpc-listen',
    numberFlag(listenText) ?? kDefaultGrpcListenPort,
    1,
    65535,
  );
  if (listenPort === httpListenPort)
    throw new InvalidOptionError(
      `--grpc-listen must differ from the HTTP --listen port, both are ${listenPort}`,
    );
  return { replicas: grpcReplicas, listenPort };
}

export function parseReplicas(text: string, flag = '--replicas'): ReplicaAddress[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.every((p) => p === ''))
    throw new InvalidOptionError(`${flag} must list at least one HOST:PORT, got ""`);
  const seen = new Set<string>();
  return parts.map((part) => {
    const address = parseAddress(part, flag);
    const key = formatAddress(address);
    if (seen.has(key)) throw new InvalidOptionError(`${flag} lists ${key} twice`);
    seen.add(key);
    return address;
  });
}

function parseAddress(part: string, flag: string): ReplicaAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/]+)):(\d+)$/.exec(part);
  if (!m)
    throw new InvalidOptionError(
      `${flag} must be HOST:PORT (or [IPv6]:PORT) addresses, comma-separated; got ${JSON.stringify(part)}`,
    );
  const host = m[1] ?? m[2]!;
  if (m[1] !== undefined && isIP(host) !== 6)
    throw new InvalidOptionError(
      `${flag}: ${JSON.stringify(host)} in brackets is not an IPv6 address`,
    );
  const port = Number(m[3]);
  if (!(port >= 1 && port <= 65535))
    throw new InvalidOptionError(
      `${flag}: the port must be from 1 to 65535, got ${m[3]} in ${JSON.stringify(part)}`,
    );
  return { host, port };
}

function parseListen(text: string | undefined): { host?: string; port: number } {
  if (text === undefined) return { port: b.listenPort };
  if (/^\d+$/.test(text)) return { port: integer('--listen', Number(text), 1, 65535) };
  const address = parseAddress(text, '--listen');
  return { host: address.host, port: address.port };
}

/**
 * With the repository API exposed: checks that no replica answers it without a token (an
 * unauthenticated POST /v2/repository/index must not get 200); names the ones that do.
 */
async function checkTokens(replicas: readonly ReplicaAddress[]): Promise<void> {
  const open = (
    await Promise.all(
      replicas.map(async (r) =>
        (await ask(r, 'POST', '/v2/repository/index')) === 200 ? r : undefined,
      ),
    )
  ).filter((r): r is ReplicaAddress => r !== undefined);
  if (open.length > 0) {
    throw new InvalidOptionError(
      `--expose-repository-api: ${open.map(formatAddress).join(', ')} answer${open.length === 1 ? 's' : ''} the repository API without a token, so anyone who reaches the balancer could load and unload models; start the replicas with --admin-token (or MLSCALE_ADMIN_TOKEN), or leave the API blocked`,
    );
  }
}

/** The status a replica answers to an empty request, or undefined when it does not answer within 2 s. */
function ask(r: ReplicaAddress, method: string, path: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: r.host, port: r.port, method, path, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 2 s')));
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/** Checks that every replica answers GET /v2/health/live within 2 s; names the ones that do not. */
async function checkReplicas(replicas: readonly ReplicaAddress[]): Promise<void> {
  const failures = (
    await Promise.all(
      replicas.map(
        (r) =>
          new Promise<string | undefined>((resolve) => {
            const req = request(
              { host: r.host, port: r.port, path: '/v2/health/live', timeout: 2000 },
              (res) => {
                res.resume();
                resolve(
                  res.statusCode === 200
                    ? undefined
                    : `${formatAddress(r)} answered ${res.statusCode} to GET /v2/health/live (is it mlscale serve?)`,
                );
              },
            );
            req.on('timeout', () => req.destroy(new Error('no answer within 2 s')));
            req.on('error', (err: NodeJS.ErrnoException) =>
              resolve(`${formatAddress(r)} is unreachable (${err.code ?? err.message})`),
            );
            req.end();
          }),
      ),
    )
  ).filter((f): f is string => f !== undefined);
  if (failures.length > 0) {
    throw new InvalidOptionError(
      `--replicas: ${failures.join('; ')}; start the replicas first, or pass --no-check to write the configuration anyway`,
    );
  }
}

function integer(flag: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidOptionError(
      `${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

function positive(flag: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    throw new InvalidOptionError(`${flag} must be a positive number, got ${JSON.stringify(v)}`);
  return v;
}

function nonEmpty(flag: string, v: string): string {
  if (v.trim() === '') throw new InvalidOptionError(`${flag} must not be empty`);
  return v;
}

function dnsName(v: string, flag = '--name'): string {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(v)) {
    throw new InvalidOptionError(
      `${flag} must be a DNS label (lower-case letters, digits and '-', at most 63), got ${JSON.stringify(v)}`,
    );
  }
  return v;
}
