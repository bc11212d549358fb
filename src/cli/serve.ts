/**
 * `mlscale serve`: parses the flags into the serving library's options (`mlscale/serve`, which
 * validates them and names options; errors print with flag names), registers the dashboard as a
 * plugin and a cluster observer unless `--no-dashboard`, and serves until stopped.
 *
 * @module
 */
import { availableParallelism, totalmem } from 'node:os';
import { fleetDashboard } from '../dashboard/fleet.js';
import { serveDashboard } from '../dashboard/serve-dashboard.js';
import {
  defaultMaxBytesInFlight,
  defaultModelSettings,
  isReplicaProcess,
  kDefaultAutoscalerConfig,
  kDefaultReplicaOptions,
  kDefaultServeOptions,
  serve,
  type ReplicaOptions,
  type ServeOptions,
} from '../serve/index.js';
import { numberFlag, parseFlags, sizeFlag, textFlag, textListFlag, type FlagSpec } from './args.js';
import { exitWithParent } from '../util/exit-with-parent.js';

const cores = availableParallelism();
const m = defaultModelSettings(cores);
const s = kDefaultServeOptions;
const a = kDefaultAutoscalerConfig;
/** A second: health checks commonly poll every 1–5 s; raise it to match your load balancer's interval. */
const kCliUnreadyDelayMs = 1000;

/** `mlscale serve --help`. */
export const serveHelp = `Usage: mlscale serve (--model PATH | --model-repository DIR) [options]

Serves ONNX models over the Open Inference Protocol (KServe v2 / Triton REST API), with dynamic
batching and several onnxruntime instances per model.

Models
  --model PATH              an artifact folder written by 'mlscale train' (model.onnx and
                            metadata.json) or one .onnx file; served under the folder's or file's name
  --model-repository DIR    a repository: DIR/<model>/<version>/model.onnx, highest version served,
                            optional DIR/<model>/config.json with per-model settings
  --variant NAME            with --model DIR: serve DIR/model.NAME.onnx (int8, fp16, graph: written
                            by 'mlscale optimize' or 'mlscale train --optimize') as <dir>-NAME
Network
  --host ADDRESS            address to bind; loopback unless you say otherwise  [${s.host}]
  --port N                  TCP port; 0 picks a free one  [${s.port}]
  --body-limit BYTES        largest request body; larger ones get 413  [${s.bodyLimit}]
  --headers-timeout-ms MS   a client must send its request headers within MS, or get 408  [${s.headersTimeoutMs}]
  --body-timeout-ms MS      ... and the whole request, body included, within MS: bounds slow
                            uploads that would hold a connection for ever  [${s.bodyTimeoutMs}]
  --max-bytes-in-flight SIZE
                            request bytes being read, queued or run at once (512M, 2G, 25%
                            of memory); past it, 503 with Retry-After  [memory / 8, at least
                            2 x --body-limit: ${defaultMaxBytesInFlight(s.bodyLimit)}]
  --max-connections N       connections open at once; more are closed as they arrive
                            [open-file limit - 128: ${s.maxConnections}]
  --grpc-port N             also serve the protocol over gRPC (KServe v2 GRPCInferenceService and
                            grpc.health.v1.Health) on this port; 0 picks a free one  [off]
Per-model settings (override each model's config.json)
  --instances N             onnxruntime sessions per model, each in its own worker thread  [${m.instances}]
  --intra-op-threads N      onnxruntime threads per instance  [${m.intraOpThreads}]
  --allow-spinning          let idle onnxruntime threads spin (lower latency, burns CPU)  [off]
  --max-batch-size N        rows merged into one batch; 0 turns dynamic batching off  [${m.maxBatchSize}]
  --max-queue-delay-ms MS   how long a partial batch waits for more requests, or 'auto': learn
                            the batch cost and wait only while waiting pays  [${m.maxQueueDelayMs}]
  --max-queue N             requests queued per model; beyond it, 503 with Retry-After  [${m.maxQueue}]
  --request-timeout-ms MS   a request's whole budget, queueing included; then 504  [${m.requestTimeoutMs}]
  --load-timeout-ms MS      an instance still loading the model after this long has failed to load:
                            the model is not ready with that reason, and the server goes on  [${m.loadTimeoutMs}]
Operations
  --admin-token TOKEN       require 'Authorization: Bearer TOKEN' on the repository API (load,
                            unload, index); also read from MLSCALE_ADMIN_TOKEN. Without a token the
                            repository API answers only on a loopback address.
  --allowed-hosts H1,H2     host names (besides localhost, 127.x.x.x, [::1]) that the repository
                            API answers under without a token; a request for any other Host, an
                            Origin of another site, or a body that is not JSON is refused, so
                            that no web page can call it (docs/serve.md, Security)  [none]
  --no-repository-api       turn the repository API off
  --no-dashboard            do not serve the live web dashboard at GET /dashboard
  --reports DIR             link the scaling reports in DIR (DIR/<name>/report.html, written by
                            'mlscale sweep') from the dashboard, served read-only
  --unready-delay-ms MS     on SIGTERM/SIGINT, how long readiness reports false while the server
                            still serves, so load balancers stop sending first  [${kCliUnreadyDelayMs}]
  --grace-period-ms MS      then, how long in-flight and queued requests may take  [${s.gracePeriodMs}]
  --log-level LEVEL         fatal | error | warn | info | debug | trace | silent  [${s.logLevel}]
  -h, --help                this help
Replicas (several serving processes on this host, sharing the port)
  --replicas N|auto         run N replicas under a primary that restarts the ones that die
                            (giving up on a crash loop), restarts them one by one on SIGHUP or a
                            model repository change, and merges their /metrics; each gets
                            cores / replicas as instances and intra-op threads unless --instances
                            or --intra-op-threads is given, so instances x threads x replicas stay
                            within the cores. 'auto' scales between --min-replicas and
                            --max-replicas on ongoing requests per replica, and adds instances per
                            replica (unless --instances is given) when CPU idles while queues
                            hold; replicas resize in place, with no restart  [one process]
  --spare-replicas N        replicas kept loaded but not listening, to take a dead replica's
                            place at once instead of after a start-up  [${kDefaultReplicaOptions.spareReplicas}]
  --min-replicas N          with auto  [1]
  --max-replicas N          with auto  [cores]
  --target-ongoing-requests N
                            with auto: ongoing (queued + running) requests per replica  [${a.targetOngoingRequests}]
  --upscale-delay-ms MS     with auto: how long the load must stay above target before adding
                            replicas (a spike of 2x the target scales at once)  [${a.upscaleDelayMs}]
  --downscale-delay-ms MS   with auto: how long it must stay below before removing some  [${a.downscaleDelayMs}]
  --smoothing-window-ms MS  with auto: ongoing requests are averaged over this window  [${a.smoothingWindowMs}]
  --cpu-idle-threshold F    with auto: the CPU idle fraction (0-1) of replicas whose queues hold
                            requests above which an instance per replica is added rather than a
                            replica; instances x threads x replicas stay within the cores  [${a.cpuIdleThreshold}]
  --peak-replicas N         with auto: the replica count of peak throughput a sweep measured on
                            this host ('mlscale advise' names it): the autoscaler stops there, as
                            it stops at the cores; past either it reports the host saturated
                            (metric mlscale_autoscaler_host_saturated, a warning in the log, the
                            dashboard) for an HPA or KEDA rule to add machines  [the cores]

Defaults come from the CPU count (${cores} here): one instance per four cores (at least one), each
with cores / instances onnxruntime threads, so instances x intra-op threads = cores and threads
never fight over them; few instances, because each one splits the queue and makes batches
smaller. No spinning, so idle onnxruntime threads leave the cores to the HTTP thread.
onnxruntime runs a session synchronously on its calling thread, so every session lives in a
worker thread, which also decodes, checks and encodes its batches' requests: the HTTP thread only
reads requests, batches them and sends the answers. Running several replicas on
one machine? Divide the cores between them (--intra-op-threads = cores / replicas); --replicas
does it for you.`;

const flags: FlagSpec = {
  model: { type: 'string' },
  'model-repository': { type: 'string' },
  variant: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'grpc-port': { type: 'string' },
  'body-limit': { type: 'string' },
  'headers-timeout-ms': { type: 'string' },
  'body-timeout-ms': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-bytes-in-flight': { type: 'string' },
  instances: { type: 'string' },
  'intra-op-threads': { type: 'string' },
  'allow-spinning': { type: 'boolean' },
  'max-batch-size': { type: 'string' },
  'max-queue-delay-ms': { type: 'string' },
  'max-queue': { type: 'string' },
  'request-timeout-ms': { type: 'string' },
  'load-timeout-ms': { type: 'string' },
  'admin-token': { type: 'string' },
  'allowed-hosts': { type: 'string' },
  'no-repository-api': { type: 'boolean' },
  'no-dashboard': { type: 'boolean' },
  reports: { type: 'string' },
  'grace-period-ms': { type: 'string' },
  'unready-delay-ms': { type: 'string' },
  'log-level': { type: 'string' },
  replicas: { type: 'string' },
  'spare-replicas': { type: 'string' },
  'min-replicas': { type: 'string' },
  'max-replicas': { type: 'string' },
  'target-ongoing-requests': { type: 'string' },
  'upscale-delay-ms': { type: 'string' },
  'downscale-delay-ms': { type: 'string' },
  'smoothing-window-ms': { type: 'string' },
  'cpu-idle-threshold': { type: 'string' },
  'peak-replicas': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** The autoscaler's flags, by the setting each gives. */
const kAutoscalerFlags = {
  minReplicas: 'min-replicas',
  maxReplicas: 'max-replicas',
  targetOngoingRequests: 'target-ongoing-requests',
  upscaleDelayMs: 'upscale-delay-ms',
  downscaleDelayMs: 'downscale-delay-ms',
  smoothingWindowMs: 'smoothing-window-ms',
  cpuIdleThreshold: 'cpu-idle-threshold',
  peakReplicas: 'peak-replicas',
} as const;

/** Runs `mlscale serve`; resolves with the exit code once the server has shut down. */
export async function serveCommand(argv: string[]): Promise<number> {
  const v = parseFlags('serve', argv, flags);
  if (v.help) {
    process.stdout.write(serveHelp + '\n');
    return 0;
  }
  const delay = textFlag(v['max-queue-delay-ms']);
  const replicas = textFlag(v.replicas);
  const dashboard = v['no-dashboard'] !== true;
  const options: ServeOptions & ReplicaOptions = {
    model: textFlag(v.model),
    modelRepository: textFlag(v['model-repository']),
    variant: textFlag(v.variant),
    host: textFlag(v.host),
    port: numberFlag(v.port),
    grpcPort: numberFlag(v['grpc-port']),
    bodyLimit: numberFlag(v['body-limit']),
    headersTimeoutMs: numberFlag(v['headers-timeout-ms']),
    bodyTimeoutMs: numberFlag(v['body-timeout-ms']),
    maxConnections: numberFlag(v['max-connections']),
    maxBytesInFlight: sizeFlag(v['max-bytes-in-flight'], totalmem()),
    adminToken: textFlag(v['admin-token']) ?? (process.env.MLSCALE_ADMIN_TOKEN || undefined),
    allowedHosts: textListFlag(v['allowed-hosts']),
    repositoryApi: v['no-repository-api'] === true ? false : undefined,
    gracePeriodMs: numberFlag(v['grace-period-ms']),
    unreadyDelayMs: numberFlag(v['unready-delay-ms']) ?? kCliUnreadyDelayMs,
    logLevel: textFlag(v['log-level']),
    modelOverrides: {
      instances: numberFlag(v.instances),
      intraOpThreads: numberFlag(v['intra-op-threads']),
      allowSpinning: v['allow-spinning'] === true ? true : undefined,
      maxBatchSize: numberFlag(v['max-batch-size']),
      maxQueueDelayMs: delay === 'auto' ? 'auto' : numberFlag(v['max-queue-delay-ms']),
      maxQueue: numberFlag(v['max-queue']),
      requestTimeoutMs: numberFlag(v['request-timeout-ms']),
      loadTimeoutMs: numberFlag(v['load-timeout-ms']),
    },
    replicas: replicas === 'auto' ? 'auto' : numberFlag(replicas),
    spareReplicas: numberFlag(v['spare-replicas']),
    autoscaler: Object.fromEntries(
      Object.entries(kAutoscalerFlags).map(([setting, flag]) => [setting, numberFlag(v[flag])]),
    ),
  };
  // The dashboard: a plugin of each server and, with replicas, the primary's fleet view.
  const plugins = dashboard ? [serveDashboard({ reports: textFlag(v.reports) })] : [];
  const observers = dashboard ? [fleetDashboard()] : [];
  // A stdin that ends before the SIGTERM handlers are in place ends the process by SIGTERM's
  // default action: as good, since the parent is gone and nothing is served. Replicas are the
  // primary's to stop.
  if (!isReplicaProcess()) exitWithParent();
  return serve(options, { plugins, observers });
}
