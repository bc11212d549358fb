/**
 * gRPC routing for `mlscale deploy nginx|haproxy`: a second listener, speaking HTTP/2 (gRPC's
 * transport), in front of the replicas' `--grpc-port`, beside the HTTP one.
 *
 * - nginx: an `http2` server with `grpc_pass` to an upstream of the gRPC addresses (least
 *   outstanding requests, passive checks, keepalive), ModelInfer retried on another replica when
 *   one cannot be reached (it has no side effects; the other RPCs only read);
 * - HAProxy: a frontend bound with `proto h2` and a backend whose servers speak `proto h2`; its
 *   active checks ask each replica's HTTP readiness (`/v2/health/ready` on the paired HTTP
 *   address), so a draining or loading replica leaves gRPC rotation as it leaves HTTP's.
 *
 * The balancers spread calls, not connections: a gRPC client keeps one HTTP/2 connection, which a
 * TCP balancer (or node:cluster's) would pin to one replica.
 *
 * @module
 */

/** Default port of the balancer's gRPC listener (the HTTP one's default is 8080). */
export const kDefaultGrpcListenPort = 8081;

/** One address, as `configs.ts` has it. */
interface Address {
  readonly host: string;
  readonly port: number;
}

/** Where gRPC is routed to and from. */
export interface GrpcRouting {
  /** The replicas' gRPC addresses, in the order of the HTTP `replicas` (paired one to one). */
  readonly replicas: readonly Address[];
  /** Port the balancer's gRPC listener binds. */
  readonly listenPort: number;
}

/** What the generators read of the balancer options. */
interface Balancer {
  readonly replicas: readonly Address[];
  readonly listenHost?: string;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly maxFails: number;
  readonly failTimeoutS: number;
  readonly tries: number;
  readonly keepalive: number;
  readonly grpc?: GrpcRouting;
}

const address = (a: Address): string =>
  `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;

const seconds = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

/** The nginx `upstream` and `server` blocks for gRPC, inside `http { }`; empty without `grpc`. */
export function nginxGrpcBlocks(o: Balancer): string {
  const g = o.grpc;
  if (!g) return '';
  const listen =
    o.listenHost === undefined
      ? String(g.listenPort)
      : address({ host: o.listenHost, port: g.listenPort });
  const servers = g.replicas
    .map(
      (r) =>
        `        server ${address(r)} max_fails=${o.maxFails} fail_timeout=${o.failTimeoutS}s;`,
    )
    .join('\n');
  const pass = `            grpc_pass grpc://mlscale_grpc;
            grpc_connect_timeout ${seconds(o.connectTimeoutMs)};
            grpc_send_timeout ${seconds(o.readTimeoutMs)};
            grpc_read_timeout ${seconds(o.readTimeoutMs)};
            grpc_next_upstream_tries ${o.tries};
            grpc_next_upstream_timeout ${seconds(o.readTimeoutMs)};
            grpc_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`;
  return `
    # gRPC (the protocol's inference.GRPCInferenceService and grpc.health.v1.Health): HTTP/2 in,
    # HTTP/2 to each replica's --grpc-port; calls, not connections, are spread over the replicas.
    upstream mlscale_grpc {
        least_conn;
        zone mlscale_grpc 256k;
${servers}
        keepalive ${o.keepalive};
        keepalive_timeout 60s;
    }

    server {
        listen ${listen} http2;

        # ModelInfer has no side effects: retry it on another replica when one cannot be reached,
        # dies mid-call or times out. (A replica's UNAVAILABLE is a gRPC status in an HTTP 200: the
        # client's own retry policy handles shedding.)
        location = /inference.GRPCInferenceService/ModelInfer {
            grpc_next_upstream error timeout non_idempotent;
${pass}
        }

        # Health and metadata only read; they too are retried when a replica cannot be reached.
        location / {
            grpc_next_upstream error timeout;
${pass}
        }
    }
`;
}

/** The HAProxy `frontend` and `backend` for gRPC; empty without `grpc`. */
export function haproxyGrpcSections(o: Balancer): string {
  const g = o.grpc;
  if (!g) return '';
  const bind =
    o.listenHost === undefined
      ? `*:${g.listenPort}`
      : address({ host: o.listenHost, port: g.listenPort });
  const servers = g.replicas
    .map((r, i) => {
      const http = o.replicas[i]!;
      return `    server grpc${i + 1} ${address(r)} proto h2 check addr ${http.host.includes(':') ? `[${http.host}]` : http.host} port ${http.port} check-proto h1`;
    })
    .join('\n');
  return `
frontend mlscale_grpc
    # gRPC: HTTP/2 without TLS (h2c) in, HTTP/2 to each replica's --grpc-port.
    bind ${bind} proto h2
    default_backend mlscale_grpc_replicas

backend mlscale_grpc_replicas
    balance leastconn
    # Every RPC of the service only reads or infers: all may be retried on another replica.
    # Checks ask the paired HTTP address's readiness, over HTTP/1.1.
    option httpchk GET /v2/health/ready
    http-check expect status 200
    default-server inter ${Math.max(500, Math.round((o.failTimeoutS * 1000) / 5))}ms fall ${o.maxFails + 1} rise 1 maxconn 512
    http-reuse safe
${servers}
`;
}
