/**
 * `mlscale deploy nginx|haproxy`: the load balancer's options from the command's flags, each
 * checked, with the gRPC routing they ask for.
 *
 * @module
 */
import {
  kDefaultBalancerOptions as b,
  type BalancerOptions,
  type ReplicaAddress,
} from '../deploy/configs.js';
import { kDefaultGrpcListenPort, type GrpcRouting } from '../deploy/grpc-routing.js';
import { InvalidOptionError } from '../errors.js';
import { numberFlag, textFlag } from './args.js';
import { integer, parseListen, parseReplicas } from './deploy-values.js';

/** The options of `mlscale deploy nginx|haproxy`. */
export function balancerOptionsFromFlags(
  target: string,
  v: Record<string, string | boolean | undefined>,
): BalancerOptions {
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
  return config;
}

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
