/**
 * The primary of `serve({ replicas })` (`mlscale serve --replicas N|auto`): several serving
 * processes on one host with node:cluster.
 *
 * The primary serves nothing itself. It forks the replicas, which share the listening port (the
 * primary accepts connections and hands them out in turn), and composes the pieces of this
 * folder: the supervisor replaces a replica that dies and gives up on a crash loop; a rolling
 * restart on SIGHUP or a change in the model repository replaces them one by one, with no request
 * dropped; with `auto`, the autoscale loop runs the policy once a second; and it merges every
 * replica's metrics for GET /metrics, which any replica answers by asking the primary over IPC.
 *
 * Readiness: a replica listens only once its models are loaded, so the port answers only when at
 * least one replica is ready.
 *
 * Cores: see layout.ts. When the replica count or the autoscaler's instances change, the primary
 * tells every replica its new layout over IPC, and the replica resizes its models' instance pools
 * in place with no request dropped (new instances load before they take work; a removed one
 * finishes its batch).
 *
 * @module
 */
import { hostCores } from '../../util/host-cores.js';
import type { Logger } from 'pino';
import { resolveAutoscalerConfig } from '../autoscaler.js';
import type { FilledServeOptions } from '../options.js';
import { onShutdownSignals } from '../shutdown-signals.js';
import { AutoscaleLoop } from './autoscale-loop.js';
import { replicaLayout, type Layout } from './layout.js';
import { kTopic } from './messages.js';
import { collectMetrics, mergedText, mergeMetrics } from './metrics-merge.js';
import { checkObservers, type ClusterObserver, type FleetView } from './observer.js';
import type { FilledReplicaOptions } from './options.js';
import { checkModelsReadable, checkPortFree } from './preflight.js';
import { PrimaryMetrics } from './primary-metrics.js';
import { watchRepository, type RepositoryWatch } from './repository-watch.js';
import { rollingRestart } from './rolling-restart.js';
import { Supervisor, type Replica } from './supervisor.js';

/** What the primary is given besides its options. */
export interface PrimarySetup {
  readonly logger: Logger;
  /** Observers of the fleet (the dashboard's fleet view is one). */
  readonly observers?: readonly ClusterObserver[];
}

/** A replica may take this long past its unready delay and grace period to exit before it is killed, in ms. */
const kExitMarginMs = 5_000;

/**
 * Runs the primary; resolves with the exit code once every replica has exited (0 after a signal,
 * 1 after a crash loop).
 */
export async function runPrimary(
  options: Readonly<FilledServeOptions>,
  replicaOptions: Readonly<FilledReplicaOptions>,
  setup: PrimarySetup,
): Promise<number> {
  const observers = checkObservers(setup.observers ?? [], 'setup.observers');
  const { logger } = setup;
  await checkModelsReadable(options);
  await checkPortFree(options.host, options.port);
  if (options.grpcPort !== undefined)
    await checkPortFree(options.host, options.grpcPort, 'grpcPort');
  // The cores this process may use: a cgroup CPU quota (a container's or a pod's limit) lowers them.
  const host = hostCores();
  const cores = host.cores;
  if (host.quota !== undefined)
    logger.info(
      { cores, quota: host.quota, source: host.source },
      `replicas plan with ${cores} core(s): a CPU quota of ${host.quota} applies (${host.source})`,
    );
  const fixed = options.modelOverrides;
  // The policy's bound: the cores, with the threads and instances the user fixed (if any).
  const policy = replicaOptions.autoscaler
    ? resolveAutoscalerConfig({
        ...replicaOptions.autoscaler,
        cores,
        threadsPerInstance: fixed.intraOpThreads ?? 1,
        ...(fixed.instances !== undefined
          ? { minInstancesPerReplica: fixed.instances, maxInstancesPerReplica: fixed.instances }
          : {}),
      })
    : undefined;

  const metrics = new PrimaryMetrics();
  let autoscaler: AutoscaleLoop | undefined;
  let restarting: Promise<void> | undefined;
  let httpUrl: string | undefined;
  let announced = false;
  let exitCode = 0;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));

  const layout = (): Layout =>
    replicaLayout({
      cores,
      replicas: supervisor.target,
      fixed,
      ...(autoscaler ? { autoscalerInstances: autoscaler.state.instancesPerReplica } : {}),
    });
  const answerReplica = (replica: Replica): void => {
    replica.ipc.handle(kTopic.metrics, async () => {
      const answers = await collectMetrics(
        supervisor.all().filter((r) => r.listening && r.worker.isConnected()),
      );
      supervisor.refreshGauges();
      return mergedText(answers, metrics.registry);
    });
    for (const o of observers)
      if (o.topic !== undefined && o.answer) replica.ipc.handle(o.topic, (body) => o.answer!(body));
  };
  const supervisor: Supervisor = new Supervisor(
    {
      logger,
      metrics,
      spares: replicaOptions.spareReplicas,
      exitLimitMs: options.unreadyDelayMs + options.gracePeriodMs + kExitMarginMs,
      layout,
      onFork: answerReplica,
      onListening: (_replica, port, endpoint) => {
        if (announced) return;
        const host = options.host.includes(':') ? `[${options.host}]` : options.host;
        // With gRPC, the announcement waits for the gRPC port (bound after HTTP's) to name both.
        if (endpoint === 'http') httpUrl = `http://${host}:${port}`;
        if (options.grpcPort !== undefined && endpoint === 'http') return;
        announced = true;
        const url = httpUrl!;
        const grpc = endpoint === 'grpc' ? `${host}:${port}` : undefined;
        logger.info(
          { url, ...(grpc ? { grpc } : {}), replicas: supervisor.target },
          `mlscale serve listening on ${url}${grpc ? ` and gRPC ${grpc}` : ''} with ${supervisor.target} replica(s)`,
        );
      },
      onCrashLoop: () => (exitCode = 1),
      onAllExited: () => finish(),
    },
    replicaOptions.replicas === 'auto' ? 1 : replicaOptions.replicas,
  );
  if (policy) {
    autoscaler = new AutoscaleLoop({
      policy,
      supervisor,
      cores,
      logger,
      metrics,
      observers,
      busy: () => restarting !== undefined,
      ...(fixed.intraOpThreads !== undefined ? { fixedThreads: fixed.intraOpThreads } : {}),
      layoutThreads: () => layout().intraOpThreads,
    });
    supervisor.target = autoscaler.state.replicas;
  }

  const restart = (why: string): Promise<void> =>
    (restarting ??= rollingRestart(supervisor, why, logger).finally(
      () => (restarting = undefined),
    ));
  let watch: RepositoryWatch | undefined;
  if (options.modelRepository !== undefined) {
    // A change in the model repository restarts the replicas one by one, so each loads it afresh.
    watch = watchRepository(
      options.modelRepository,
      () => {
        if (supervisor.stopping) return;
        if (restarting) void restarting.then(() => watch?.changed());
        else void restart('the model repository changed');
      },
      logger,
    );
  }
  const offSignals = onShutdownSignals(({ signal, now }) => {
    if (!now)
      logger.info(
        { signal, gracePeriodMs: options.gracePeriodMs },
        'shutting down: draining every replica',
      );
    else logger.warn({ signal }, 'second signal: cutting the drain short');
    void supervisor.stop(now);
  });
  const onHup = (): void => void restart('SIGHUP');
  process.on('SIGHUP', onHup);

  // The observers' view of the fleet: the replicas listening and not draining.
  const fleet: FleetView = {
    metrics: async () =>
      mergeMetrics(
        await collectMetrics(supervisor.serving().filter((r) => r.worker.isConnected())),
      ).getMetricsAsJSON(),
    listening: () => supervisor.serving().length,
  };
  const finish = (): void => {
    autoscaler?.stop();
    for (const o of observers) o.onStop?.();
    supervisor.dispose();
    watch?.close();
    process.off('SIGHUP', onHup);
    offSignals();
    logger.info(
      { code: exitCode },
      exitCode === 0 ? 'shut down cleanly' : 'shut down after a crash loop',
    );
    resolveDone(exitCode);
  };

  for (const o of observers) o.onStart?.(fleet);
  supervisor.start();
  autoscaler?.start();
  return done;
}
