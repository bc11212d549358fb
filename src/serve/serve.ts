/**
 * Serving as `mlscale serve` does it, as one library call: options validated once, then one
 * server in this process until SIGTERM/SIGINT, or with `replicas` a node:cluster primary and its
 * replicas (this same call, run again in each forked replica, runs the replica's side).
 *
 * @module
 */
import { pino, type Logger } from 'pino';
import { runPrimary } from './cluster/primary.js';
import type { ClusterObserver } from './cluster/observer.js';
import { resolveReplicaOptions, type ReplicaOptions } from './cluster/options.js';
import { isReplicaProcess, runReplica } from './cluster/replica.js';
import { resolveServeOptions, type FilledServeOptions, type ServeOptions } from './options.js';
import type { ServerPlugin } from './plugins.js';
import { createServer, type ModelServer } from './server.js';
import { onShutdownSignals } from './shutdown-signals.js';

/** What `serve()` takes besides its options. */
export interface ServeSetup {
  /** A pino logger; by default one at `options.logLevel` on stdout, as `mlscale serve` logs. */
  readonly logger?: Logger;
  /** Extensions of each server (the lone one, or every replica's). */
  readonly plugins?: readonly ServerPlugin[];
  /** Observers of the replicas' primary; unused without `replicas`. */
  readonly observers?: readonly ClusterObserver[];
}

/**
 * Serves until stopped and resolves with the exit code: one server that drains on SIGTERM/SIGINT
 * (0 after a clean drain, 1 when a second signal cut it), or with `replicas` the primary (0 after
 * a signal, 1 after a crash loop) — in a replica process, the replica.
 *
 * @throws {InvalidOptionError} (rejects) for an invalid option, before anything starts.
 * @example
 * // serve.ts, run with `node serve.js`: the same file runs the primary and each replica.
 * import { serve } from 'mlscale/serve';
 * process.exitCode = await serve({ modelRepository: 'models', port: 8000, replicas: 2 });
 */
export async function serve(
  options: ServeOptions & ReplicaOptions,
  setup: ServeSetup = {},
): Promise<number> {
  const { replicas, spareReplicas, autoscaler, ...serverOptions } = options;
  const filled = resolveServeOptions(serverOptions);
  const cluster = resolveReplicaOptions({ replicas, spareReplicas, autoscaler });
  const logger = setup.logger ?? pino({ level: filled.logLevel, base: { pid: process.pid } });
  if (isReplicaProcess())
    return runReplica(filled, { logger, ...(setup.plugins ? { plugins: setup.plugins } : {}) });
  if (cluster)
    return runPrimary(filled, cluster, {
      logger: logger.child({ role: 'primary' }),
      ...(setup.observers ? { observers: setup.observers } : {}),
    });
  return serveAlone(filled, logger, setup.plugins);
}

/** One server in this process: listens, then drains on the first signal and cuts the drain on a later one. */
async function serveAlone(
  options: Readonly<FilledServeOptions>,
  logger: Logger,
  plugins: readonly ServerPlugin[] | undefined,
): Promise<number> {
  const server = await createServer(options, { logger, ...(plugins ? { plugins } : {}) });
  const url = await server.listen();
  const grpc = server.grpcAddress();
  logger.info(
    { url, ...(grpc ? { grpc } : {}), models: server.repository.index() },
    `mlscale serve listening on ${url}${grpc ? ` and gRPC ${grpc}` : ''}`,
  );
  return closeOnSignals(server, logger);
}

/**
 * Drains `server` on the first SIGTERM or SIGINT and cuts the drain short on a later one.
 * @returns the exit code, once closed: 0 after a clean drain, 1 after a cut or a failed close.
 */
export function closeOnSignals(server: ModelServer, logger: Logger): Promise<number> {
  return new Promise<number>((resolve) => {
    let cut = false;
    const off = onShutdownSignals(({ signal, now }) => {
      if (now) {
        cut = true;
        logger.warn({ signal }, 'second signal: exiting without waiting');
        // Resolving alone would change nothing: sockets and instance threads keep the process alive
        // through the drain. This cuts the drain instead; batches already running still finish, since
        // exiting while onnxruntime runs in a worker thread aborts the process.
        void server.close({ now: true });
        return;
      }
      logger.info(
        { signal, gracePeriodMs: server.options.gracePeriodMs },
        'shutting down: draining in-flight requests',
      );
      server.close().then(
        () => {
          off();
          if (cut) return resolve(1);
          logger.info('shut down cleanly');
          resolve(0);
        },
        (err: unknown) => {
          off();
          logger.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    });
  });
}
