/**
 * One replica of `serve({ replicas })`: the ordinary server, with GET /metrics merged by the
 * primary, answering the primary's metrics and load requests, resizing its models when told, and
 * draining when told to (or when the primary goes away).
 *
 * @module
 */
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { ModelNotReadyError, ShuttingDownError } from '../../errors.js';
import { IpcRequests } from '../../util/ipc-request.js';
import type { FilledServeOptions } from '../options.js';
import type { ServerPlugin } from '../plugins.js';
import { createServer, type ModelServer } from '../server.js';
import { layoutFromEnv, type Layout } from './layout.js';
import {
  isMessage,
  kTopic,
  type ReplicaSample,
  type ToPrimary,
  type ToReplica,
} from './messages.js';

/** How long a replica waits for the primary's answer (merged metrics, an observer's data), in ms. */
export const kPrimaryAnswerMs = 4_000;

/** Whether this process is a replica forked by a primary. */
export function isReplicaProcess(): boolean {
  return cluster.isWorker && process.env['MLSCALE_REPLICA'] !== undefined;
}

/** What a replica is given besides its options. */
export interface ReplicaProcessSetup {
  readonly logger: Logger;
  /** Plugins of its server (the dashboard is one); they reach the primary's observers through `askPrimary`. */
  readonly plugins?: readonly ServerPlugin[];
}

/**
 * The options a replica runs with: the layout the primary forked it with, for the settings the
 * user left to the defaults.
 */
export function replicaServeOptions(
  options: Readonly<FilledServeOptions>,
  layout: Layout = layoutFromEnv(process.env),
): Readonly<FilledServeOptions> {
  const overrides = { ...options.modelOverrides };
  if (layout.instances !== undefined && overrides.instances === undefined)
    overrides.instances = layout.instances;
  if (layout.intraOpThreads !== undefined && overrides.intraOpThreads === undefined)
    overrides.intraOpThreads = layout.intraOpThreads;
  return Object.freeze({ ...options, modelOverrides: Object.freeze(overrides) });
}

/** Runs one replica; resolves with the exit code. */
export async function runReplica(
  options: Readonly<FilledServeOptions>,
  setup: ReplicaProcessSetup,
): Promise<number> {
  const slot = Number(process.env['MLSCALE_REPLICA']);
  const logger = setup.logger;
  // Checked first: sending on a closed channel emits 'error' on the process instead of throwing.
  const ipc = new IpcRequests(
    (m) => {
      if (!process.connected) throw new Error('the IPC channel is closed');
      process.send!(m);
    },
    { peer: 'the primary', timeoutMs: kPrimaryAnswerMs },
  );
  const early = stopOrdersWhileLoading();
  let server: ModelServer;
  try {
    server = await createServer(replicaServeOptions(options), {
      logger: logger.child({ replica: slot }),
      ...(setup.plugins ? { plugins: setup.plugins } : {}),
      metricsText: () => ipc.request<string>(kTopic.metrics),
      stopAcceptingOnDrain: true,
      askPrimary: (topic, body) => ipc.request(topic, body),
    });
  } catch (err) {
    // Without the IPC channel the process exits once the error is reported; the primary sees a death.
    letGo(1);
    throw err;
  } finally {
    early.dispose();
  }
  if (early.stop) {
    await server.close({ now: true });
    letGo(0);
    return 0;
  }

  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExit = r));
  let closing = false;
  const drainAndExit = (now: boolean): void => {
    closing = true;
    // A later call with `now` cuts the drain short; the close is the same one.
    server.close({ now }).then(
      () => resolveExit(0),
      (err: unknown) => {
        logger.error({ err }, 'replica shutdown failed');
        resolveExit(1);
      },
    );
  };
  const resize = inPlaceResizer(server, slot, logger, () => closing);
  answerPrimary(ipc, server);
  process.on('message', (message: unknown) => {
    if (ipc.receive(message)) return;
    if (isMessage<Extract<ToReplica, { mlscale: 'shutdown' }>>(message, 'shutdown'))
      drainAndExit(message.now === true);
    else if (isMessage<Extract<ToReplica, { mlscale: 'resize' }>>(message, 'resize'))
      void resize(message);
  });
  // The primary going away (killed) leaves this replica orphaned: drain and exit.
  process.on('disconnect', () => {
    ipc.close('the primary disconnected');
    drainAndExit(false);
  });
  // Ctrl-C and a closed terminal reach the whole process group; the primary orchestrates those.
  // SIGTERM (a service manager stops the group, or one replica is stopped) drains this replica.
  process.on('SIGINT', () => undefined);
  process.on('SIGHUP', () => undefined);
  process.on('SIGTERM', () => drainAndExit(false));

  if (process.env['MLSCALE_STANDBY'] === '1') {
    // A spare: loaded, waiting to be told to listen (or to shut down).
    process.send!({ mlscale: 'loaded' } satisfies ToPrimary);
    if (await activatedBefore(exited)) await server.listen();
  } else {
    await server.listen();
  }
  const code = await exited;
  letGo(code);
  return code;
}

/**
 * Remembers an order to stop that comes while the models load (a spare started just before a
 * shutdown or a rolling restart), to act on once they are loaded.
 */
function stopOrdersWhileLoading(): {
  readonly stop: { readonly now: boolean } | undefined;
  dispose(): void;
} {
  const state: { stop: { now: boolean } | undefined; dispose(): void } = {
    stop: undefined,
    dispose: () => {
      process.off('message', onMessage);
      process.off('disconnect', onEnd);
      process.off('SIGTERM', onEnd);
    },
  };
  const onMessage = (message: unknown): void => {
    if (isMessage<Extract<ToReplica, { mlscale: 'shutdown' }>>(message, 'shutdown'))
      state.stop = { now: message.now === true };
  };
  const onEnd = (): void => void (state.stop ??= { now: false });
  process.on('message', onMessage);
  process.once('disconnect', onEnd);
  process.once('SIGTERM', onEnd);
  return state;
}

/** Answers the primary's requests: the registry's metrics (`collect`) and the load since the last sample (`sample`). */
function answerPrimary(ipc: IpcRequests, server: ModelServer): void {
  let lastCpu = process.cpuUsage();
  let lastTime = performance.now();
  ipc.handle(kTopic.collect, () => {
    for (const m of server.repository.models()) m.refreshGauges();
    return server.metrics.registry.getMetricsAsJSON();
  });
  ipc.handle(kTopic.sample, (): ReplicaSample => {
    let ongoing = 0;
    let queueDepth = 0;
    for (const m of server.repository.models()) {
      const b = m.statistics().batcher;
      ongoing += b.inFlight;
      queueDepth += b.depth;
    }
    const cpu = process.cpuUsage(lastCpu);
    const now = performance.now();
    const sample = {
      ongoing,
      queueDepth,
      cpuMs: (cpu.user + cpu.system) / 1000,
      elapsedMs: now - lastTime,
    };
    lastCpu = process.cpuUsage();
    lastTime = now;
    return sample;
  });
}

/** Resizes every model to a layout the primary sent, one resize at a time in the order sent. */
function inPlaceResizer(
  server: ModelServer,
  slot: number,
  logger: Logger,
  closing: () => boolean,
): (l: Layout) => Promise<void> {
  let resizing: Promise<void> = Promise.resolve();
  return (l) =>
    (resizing = resizing.then(async () => {
      if (closing()) return;
      const size = {
        ...(l.instances !== undefined ? { instances: l.instances } : {}),
        ...(l.intraOpThreads !== undefined ? { intraOpThreads: l.intraOpThreads } : {}),
      };
      for (const r of await server.repository.resize(size)) {
        const fields = {
          replica: slot,
          model: r.name,
          version: r.version,
          instances: r.instances,
          intraOpThreads: r.intraOpThreads,
        };
        // A model being unloaded or a replica shutting down has nothing left to resize.
        if (r.error instanceof ShuttingDownError || r.error instanceof ModelNotReadyError) continue;
        if (r.error)
          logger.error(
            { ...fields, err: r.error },
            'model could not be resized; it keeps its instances',
          );
        else if (r.changed)
          logger.info(
            fields,
            `model resized in place: ${r.instances} instance(s) x ${r.intraOpThreads} intra-op thread(s)`,
          );
      }
    }));
}

/** A spare's wait: true once the primary says 'activate', false if the replica exits first. */
function activatedBefore(exited: Promise<number>): Promise<boolean> {
  let onMessage: ((m: unknown) => void) | undefined;
  const activated = new Promise<boolean>((resolve) => {
    onMessage = (m: unknown): void => {
      if (isMessage<Extract<ToReplica, { mlscale: 'activate' }>>(m, 'activate')) resolve(true);
    };
    process.on('message', onMessage);
  });
  return Promise.race([activated, exited.then(() => false)]).finally(() =>
    process.off('message', onMessage!),
  );
}

/**
 * Lets go of the IPC channel, which would keep the process alive, so that it exits with the code
 * the command returns. `worker.disconnect()`, not `process.disconnect()`: node's cluster exits a
 * worker with 0 at once on a disconnect it did not ask for. A backstop exits anyway if something
 * still holds the process a few seconds later.
 */
function letGo(code: number): void {
  if (cluster.worker?.isConnected()) cluster.worker.disconnect();
  setTimeout(() => process.exit(code), 5_000).unref();
}
