/**
 * `mlscale deploy nginx`: the nginx.conf in front of mlscale serve replicas (the choices it shares
 * with HAProxy's are explained in balancer-parts.ts).
 *
 * @module
 */
import {
  formatAddress,
  header,
  kRepositoryBlockedBody,
  repositoryExposedNote,
  seconds,
  type BalancerOptions,
} from './balancer-parts.js';
import { nginxGrpcBlocks } from './grpc-routing.js';

/** A whole nginx.conf (run it with `nginx -c`; `-g 'pid ...;'` and `-e` place the pid and error log). */
export function nginxConfig(o: BalancerOptions): string {
  const listen =
    o.listenHost === undefined
      ? String(o.listenPort)
      : `${formatAddress({ host: o.listenHost, port: o.listenPort })}`;
  const servers = o.replicas
    .map(
      (r) =>
        `        server ${formatAddress(r)} max_fails=${o.maxFails} fail_timeout=${o.failTimeoutS}s;`,
    )
    .join('\n');
  const proxy = `            proxy_pass http://mlscale;
            # Keepalive to the replicas: HTTP/1.1 and no "Connection: close" passed on.
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout ${seconds(o.connectTimeoutMs)};
            proxy_send_timeout ${seconds(o.readTimeoutMs)};
            proxy_read_timeout ${seconds(o.readTimeoutMs)};
            proxy_next_upstream_tries ${o.tries};
            proxy_next_upstream_timeout ${seconds(o.readTimeoutMs)};
            # Stream answers through rather than buffering them to disk.
            proxy_buffering off;`;
  return `${header('#', 'nginx')}# Replicas: ${o.replicas.map(formatAddress).join(', ')}
# Passive health checks: a replica that fails ${o.maxFails} time(s) (connect error, timeout, 502/503)
# is left out for ${o.failTimeoutS} s, then tried again. Open source nginx has no active checks; use
# HAProxy ('mlscale deploy haproxy') for checks on /v2/health/ready.
worker_processes ${o.workerProcesses};

events {
    worker_connections 4096;
}

http {
    access_log off;
    client_max_body_size ${o.bodyLimit};
    # Request bodies stay in memory up to the usual inference size instead of going to a temp file.
    client_body_buffer_size 1m;

    upstream mlscale {
        # Least outstanding requests: the next request goes to the replica with the fewest open.
        least_conn;
        # Shared by the worker processes: one count of outstanding requests, one failure record.
        zone mlscale 256k;
${servers}
        keepalive ${o.keepalive};
        keepalive_timeout 60s;
    }

    server {
        listen ${listen};
${o.exposeRepositoryApi ? repositoryExposedNote('        ') : nginxRepositoryBlock}
        # Inference is free of side effects: retry it on another replica when one cannot be
        # reached, dies mid-request (error), times out, or is draining or shedding (502, 503).
        location ~ ^/v2/models/[^/]+(/versions/[^/]+)?/infer$ {
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
${proxy}
        }

        # Everything else (health, metadata, stats, metrics, the repository API): GETs are retried
        # on a connect failure; POSTs only when they never reached a replica.
        location / {
            proxy_next_upstream error timeout;
${proxy}
        }
    }
${nginxGrpcBlocks(o)}}
`;
}

const nginxRepositoryBlock = `
        # The model repository API (load, unload, index) is not forwarded: a replica without an
        # admin token would take it from anyone who reaches this balancer. nginx matches the
        # normalised path (percent-decoding, "..", "//" resolved), so no spelling slips through.
        location ~* ^/v2/+repository(/|$) {
            default_type application/json;
            return 403 '${kRepositoryBlockedBody}\n';
        }
`;
