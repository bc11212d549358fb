/**
 * `mlscale deploy haproxy`: the haproxy.cfg in front of mlscale serve replicas (the choices it
 * shares with nginx's are explained in balancer-parts.ts).
 *
 * @module
 */
import {
  formatAddress,
  header,
  kRepositoryBlockedBody,
  repositoryExposedNote,
  type BalancerOptions,
} from './balancer-parts.js';
import { haproxyGrpcSections } from './grpc-routing.js';

// HAProxy matches the path as sent: decoded, with repeated slashes, "./" and "../" allowed for,
// it still names the repository API however it is spelt.
const haproxyRepositoryBlock = `    # The model repository API (load, unload, index) is not forwarded: a replica without an admin
    # token would take it from anyone who reaches this balancer.
    acl mlscale_repository_api path,url_dec -m reg -i '(^|/)v2/+(\\./+)*repository(/|$)'
    http-request return status 403 content-type application/json string '${kRepositoryBlockedBody}' if mlscale_repository_api
`;

/** A whole haproxy.cfg. */
export function haproxyConfig(o: BalancerOptions): string {
  const bind =
    o.listenHost === undefined
      ? `*:${o.listenPort}`
      : formatAddress({ host: o.listenHost, port: o.listenPort });
  const interMs = Math.max(500, Math.round((o.failTimeoutS * 1000) / 5));
  const servers = o.replicas
    .map((r, i) => `    server replica${i + 1} ${formatAddress(r)} check`)
    .join('\n');
  return `${header('#', 'haproxy')}# Replicas: ${o.replicas.map(formatAddress).join(', ')}
# Needs HAProxy 2.2 or later (retry-on, http-request return). Check it with 'haproxy -c -f haproxy.cfg'.
global
    maxconn 4096

defaults
    mode http
    timeout connect ${o.connectTimeoutMs}ms
    timeout client ${o.readTimeoutMs}ms
    timeout server ${o.readTimeoutMs}ms
    timeout http-request 10s
    timeout http-keep-alive 60s
    timeout queue ${o.connectTimeoutMs * o.tries}ms
    # Retry on another replica: up to ${o.tries} tries in all, each retry on a different server.
    retries ${o.tries - 1}
    option redispatch 1
    # Layer-7 retries: also when a replica died mid-request or answered 502/503 (draining, shedding).
    # Inference is free of side effects; the repository API's POSTs are excluded below.
    retry-on conn-failure empty-response response-timeout 502 503
    option http-buffer-request

frontend mlscale
    bind ${bind}
${o.exposeRepositoryApi ? repositoryExposedNote('    ') : haproxyRepositoryBlock}    default_backend mlscale_replicas

backend mlscale_replicas
    # Least outstanding requests.
    balance leastconn
    # Active health checks on the protocol's readiness endpoint: a replica that is loading,
    # draining (SIGTERM) or has no ready model is taken out after ${o.maxFails + 1} failed checks.
    option httpchk GET /v2/health/ready
    http-check expect status 200
    default-server inter ${interMs}ms fall ${o.maxFails + 1} rise 1 maxconn 512
    # Keepalive connections to the replicas, reused safely between clients.
    http-reuse safe
    http-request disable-l7-retry if METH_POST !{ path_reg ^/v2/models/[^/]+(/versions/[^/]+)?/infer$ }
${servers}
${haproxyGrpcSections(o)}`;
}
