/**
 * `mlscale serve --replicas N|auto`: several serving processes on one host with node:cluster.
 *
 * The primary serves nothing itself. It forks the replicas, which share the listening port (the
 * primary accepts connections and hands them out in turn); it replaces a replica that dies, after
 * a backoff that grows with repeated deaths, and gives up — exit 1, a fatal log line — when
 * replicas keep dying (a crash loop); it restarts them one by one on SIGHUP (each replacement
 * listens before the one it replaces starts its drain, so no request is dropped); with `auto` it
 * runs the autoscaler policy once a second on the replicas' signals; and it merges every replica's
 * metrics for GET /metrics, which any replica answers by asking the primary over IPC.
 *
 * Readiness: a replica listens only once its models are loaded, so the port answers only when at
 * least one replica is ready.
 *
 * Warm spares (`--spare-replicas`, 1 by default): replicas started and loaded but not listening.
 * Starting a process and loading its models takes about a second on an idle machine and several
 * under load; a dead replica's place is taken by a spare at once (it only has to start listening),
 * and a new spare is started behind it. The autoscaler's first step up uses one too.
 *
 * Cores: unless the user fixed them with --instances and --intra-op-threads, the primary decides
 * each replica's instances and intra-op threads so that instances × threads × replicas stay within
 * the cores: each replica gets cores / replicas, as one instance per four of those cores (or the
 * autoscaler's count) with the rest as threads. When the replica count or the autoscaler's
 * instances change, it tells every replica its new layout over IPC, and the replica resizes its
 * models' instance pools in place with no request dropped (new instances load before they take
 * work; a removed one finishes its batch). After a scale-down the survivors grow only once the
 * removed replicas have exited, so the cores are never oversubscribed on the way.
 *
 * @module
 */
import cluster, { type Worker } from 'node:cluster';
import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';

/** One registry's metrics as `getMetricsAsJSON()` gives them. */
type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;
import { InvalidOptionError, ModelLoadError, ModelNotReadyError, ShuttingDownError } from '../errors.js';
import { autoscale, initialAutoscalerState, resolveAutoscalerConfig, type AutoscalerConfig, type AutoscalerState, type Signals } from './autoscaler.js';
import { defaultModelSettings, type ServeOptions } from './options.js';
import { createServer, type ModelServer } from './server.js';
import { FleetDashboard, PrimaryDashboardClient, type DashboardAnswer, type DashboardRequest } from '../dashboard/fleet.js';

/** How the primary runs its replicas. */
export interface ClusterOptions {
  /** A fixed count, or `auto` (then `autoscaler` bounds it). */
  readonly replicas: number | 'auto';
  readonly autoscaler?: AutoscalerConfig;
  /** Replicas kept loaded but not listening, to replace a dead one at once. */
  readonly spares: number;
}

/** Replica deaths within `kCrashLoopWindowMs` that make the primary give up. */
const kCrashLoopDeaths = 5;
const kCrashLoopWindowMs = 60_000;
/** Deaths older than this no longer lengthen the restart backoff. */
const kStableMs = 10_000;
/** Restart delays after repeated deaths of the same replica: 0, then doubling from this, up to the max. */
const kBackoffBaseMs = 250;
const kBackoffMaxMs = 8_000;
const kAutoscaleIntervalMs = 1_000;
/** A model repository change restarts the replicas once no further change came for this long. */
const kRepositorySettleMs = 1_000;
/** How long the primary waits for each replica's answer to a metrics or signals request. */
const kIpcTimeoutMs = 2_000;

/** Messages between the primary and the replicas. */
type ToReplica =
  | { mlscale: 'collect'; id: number }
  | { mlscale: 'sample'; id: number }
  | { mlscale: 'metrics'; id: number; text?: string; error?: string }
  | DashboardAnswer
  | { mlscale: 'shutdown'; now?: boolean }
  | { mlscale: 'activate' }
  | ({ mlscale: 'resize' } & Layout);
type ToPrimary =
  | { mlscale: 'collected'; id: number; metrics: MetricsJson }
  | { mlscale: 'sampled'; id: number; ongoing: number; queueDepth: number; cpuMs: number; elapsedMs: number }
  | { mlscale: 'metrics-request'; id: number }
  | DashboardRequest
  | { mlscale: 'loaded' };

/** Instances per model and intra-op threads per instance the primary gives a replica; absent: the user's flag. */
interface Layout {
  readonly instances?: number;
  readonly intraOpThreads?: number;
}

interface Replica {
  readonly slot: number;
  /** The layout it was started with or last told (JSON), so each change is sent once. */
  layout: string;
  readonly worker: Worker;
  readonly startedAt: number;
  listening: boolean;
  retiring: boolean;
  /** A warm spare: waits, loaded, for 'activate' before it listens. */
  standby: boolean;
  /** Its models are loaded (spares report it; it is implied by listening). */
  loaded: boolean;
}

/** Whether this process is a replica forked by a primary. */
export function isReplicaProcess(): boolean {
  return cluster.isWorker && process.env['MLSCALE_REPLICA'] !== undefined;
}

/** Fails before any replica starts when the models cannot be read at all (each replica would die). */
async function checkModelsReadable(options: Readonly<ServeOptions>): Promise<void> {
  try {
    if (options.modelRepository !== undefined) await readdir(options.modelRepository);
    else if (options.model !== undefined) await stat(options.model);
  } catch (err) {
    const flag = options.modelRepository !== undefined ? `--model-repository ${options.modelRepository}` : `--model ${options.model}`;
    throw new ModelLoadError(`${flag}: cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

/** Fails with a clear message, before anything starts, when host:port is taken. */
async function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new InvalidOptionError(`--port ${port} is already in use on ${host}; pick another, or 0 for a free one`)
          : new InvalidOptionError(`--host ${host} --port ${port} cannot be listened on (${err.code ?? err.message})`),
      );
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/**
 * Runs the primary; resolves with the exit code once every replica has exited (0 after a signal,
 * 1 after a crash loop).
 */
export async function runPrimary(options: Readonly<ServeOptions>, clusterOptions: ClusterOptions, logger: Logger): Promise<number> {
  await checkModelsReadable(options);
  await checkPortFree(options.host, options.port);
  const cores = availableParallelism();
  const auto = clusterOptions.replicas === 'auto';
  const given = options.modelOverrides;
  // The policy's bound: the cores, with the threads and instances the user fixed (if any).
  const policy = clusterOptions.autoscaler
    ? resolveAutoscalerConfig({
        ...clusterOptions.autoscaler,
        cores,
        threadsPerInstance: given.intraOpThreads ?? 1,
        ...(given.instances !== undefined ? { minInstancesPerReplica: given.instances, maxInstancesPerReplica: given.instances } : {}),
      })
    : undefined;
  let autoState: AutoscalerState | undefined = auto && policy ? initialAutoscalerState(policy) : undefined;
  let target = autoState?.replicas ?? (clusterOptions.replicas as number);

  const registry = new Registry();
  const replicasGauge = new Gauge({ name: 'mlscale_cluster_replicas', help: 'Serving processes (replicas) listening on this host.', registers: [registry] });
  const targetGauge = new Gauge({ name: 'mlscale_cluster_replicas_target', help: 'Replicas the primary aims to run (the autoscaler sets it with --replicas auto).', registers: [registry] });
  const restarts = new Counter({ name: 'mlscale_cluster_replica_restarts_total', help: 'Replicas that died and were started again.', registers: [registry] });
  const scaling = new Counter({ name: 'mlscale_autoscaler_decisions_total', help: 'Autoscaler decisions that changed something, by action.', labelNames: ['action'] as const, registers: [registry] });

  const replicas = new Map<number, Replica>();
  const deaths: number[] = [];
  const pending = new Map<number, { resolve: (m: ToPrimary) => void }>();
  let nextId = 1;
  let nextSlot = 0;
  let stopping = false;
  let announced = false;
  let restarting: Promise<void> | undefined;
  let autoscaleTimer: NodeJS.Timeout | undefined;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));
  let exitCode = 0;

  /** Replicas serving or about to: neither retiring nor spares. */
  const live = (): Replica[] => [...replicas.values()].filter((r) => !r.retiring && !r.standby);
  const spares = (): Replica[] => [...replicas.values()].filter((r) => !r.retiring && r.standby);
  const refreshGauges = (): void => {
    replicasGauge.set([...replicas.values()].filter((r) => r.listening && !r.retiring).length);
    targetGauge.set(target);
  };

  /**
   * What each replica runs now: its share of the cores (cores / target replicas) as instances (the
   * autoscaler's count, or one per four cores of the share, as a lone server would) and intra-op
   * threads, so that instances × threads × replicas stay within the cores. A setting the user gave
   * as a flag is left to the flag.
   */
  const layout = (): Layout => {
    const share = Math.max(1, Math.floor(cores / Math.max(1, target)));
    const instances = given.instances ?? autoState?.instancesPerReplica ?? defaultModelSettings(share).instances;
    return {
      ...(given.instances === undefined ? { instances } : {}),
      ...(given.intraOpThreads === undefined ? { intraOpThreads: Math.max(1, Math.floor(share / instances)) } : {}),
    };
  };
  const layoutEnv = (l: Layout): Record<string, string> => ({
    ...(l.instances !== undefined ? { MLSCALE_INSTANCES: String(l.instances) } : {}),
    ...(l.intraOpThreads !== undefined ? { MLSCALE_INTRA_OP_THREADS: String(l.intraOpThreads) } : {}),
  });

  /** Tells `r` the current layout if it runs another and can act on it (loaded, not leaving). */
  const syncLayout = (r: Replica, l = layout()): boolean => {
    const key = JSON.stringify(l);
    if (r.layout === key || !r.loaded || r.retiring || !r.worker.isConnected()) return false;
    r.layout = key;
    send(r, { mlscale: 'resize', ...l });
    return true;
  };
  /** Tells every replica (spares too) the current layout; logs it once if anyone's changed. */
  const pushLayout = (why: string): void => {
    if (stopping) return;
    const l = layout();
    const told = [...replicas.values()].filter((r) => syncLayout(r, l)).map((r) => r.slot);
    if (told.length > 0) logger.info({ ...l, replicas: told, reason: why }, `replicas resize their instances in place: ${describeLayout(l)} (${why})`);
  };

  const fork = (slot = nextSlot++, standby = false): Replica => {
    const l = layout();
    const worker = cluster.fork({ MLSCALE_REPLICA: String(slot), ...(standby ? { MLSCALE_STANDBY: '1' } : {}), ...layoutEnv(l) });
    const replica: Replica = { slot, layout: JSON.stringify(l), worker, startedAt: Date.now(), listening: false, retiring: false, standby, loaded: false };
    replicas.set(worker.id, replica);
    logger.info({ replica: slot, workerPid: worker.process.pid, spare: standby }, standby ? 'spare replica started' : 'replica started');
    worker.on('listening', (address) => {
      replica.listening = true;
      replica.loaded = true;
      refreshGauges();
      logger.info({ replica: slot, workerPid: worker.process.pid }, 'replica listening');
      // Started before the last change of layout (a spare, or forked just before a scale).
      if (syncLayout(replica)) logger.info({ replica: slot, ...layout() }, `replica told its new layout: ${describeLayout(layout())}`);
      if (!announced) {
        announced = true;
        const host = options.host.includes(':') ? `[${options.host}]` : options.host;
        const url = `http://${host}:${address.port}`;
        logger.info({ url, replicas: target }, `mlscale serve listening on ${url} with ${target} replica(s)`);
      }
    });
    worker.on('message', (message: ToPrimary) => onMessage(replica, message));
    return replica;
  };

  const request = <T extends ToPrimary>(r: Replica, make: (id: number) => ToReplica): Promise<T | undefined> =>
    new Promise((resolve) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(undefined);
      }, kIpcTimeoutMs);
      pending.set(id, {
        resolve: (m) => {
          clearTimeout(timer);
          pending.delete(id);
          resolve(m as T);
        },
      });
      try {
        r.worker.send(make(id));
      } catch {
        clearTimeout(timer);
        pending.delete(id);
        resolve(undefined);
      }
    });

  const mergedMetrics = async (): Promise<string> => {
    const answers = await Promise.all(
      [...replicas.values()].filter((r) => r.listening && r.worker.isConnected()).map((r) => request<Extract<ToPrimary, { mlscale: 'collected' }>>(r, (id) => ({ mlscale: 'collect', id }))),
    );
    refreshGauges();
    const merged: Registry = AggregatorRegistry.aggregate(answers.filter((a) => a !== undefined).map((a) => a.metrics));
    return Registry.merge([merged, registry]).metrics();
  };

  function onMessage(replica: Replica, message: ToPrimary): void {
    if (typeof message !== 'object' || message === null || !('mlscale' in message)) return;
    if (message.mlscale === 'metrics-request') {
      mergedMetrics().then(
        (text) => send(replica, { mlscale: 'metrics', id: message.id, text }),
        (err: unknown) => send(replica, { mlscale: 'metrics', id: message.id, error: String(err) }),
      );
      return;
    }
    if (message.mlscale === 'dashboard-request') {
      if (fleetDashboard) send(replica, { mlscale: 'dashboard', id: message.id, snapshot: fleetDashboard.snapshot(message.since) });
      else send(replica, { mlscale: 'dashboard', id: message.id, error: 'the dashboard is turned off' });
      return;
    }
    if (message.mlscale === 'loaded') {
      replica.loaded = true;
      logger.info({ replica: replica.slot, workerPid: replica.worker.process.pid }, 'spare replica loaded');
      if (syncLayout(replica)) logger.info({ replica: replica.slot, ...layout() }, `replica told its new layout: ${describeLayout(layout())}`);
      return;
    }
    pending.get(message.id)?.resolve(message);
  }

  /** Keeps `clusterOptions.spares` spares, started after `delayMs`. */
  let spareTimer: NodeJS.Timeout | undefined;
  const ensureSpares = (delayMs = 0): void => {
    if (stopping || spareTimer) return;
    spareTimer = setTimeout(() => {
      spareTimer = undefined;
      if (stopping) return;
      for (let i = spares().length; i < clusterOptions.spares; i++) fork(nextSlot++, true);
    }, delayMs);
  };

  /** Turns a loaded spare into a serving replica; undefined if none is loaded. */
  const activateSpare = (): Replica | undefined => {
    const spare = spares().find((r) => r.loaded && r.worker.isConnected());
    if (!spare) return undefined;
    spare.standby = false;
    send(spare, { mlscale: 'activate' });
    logger.info({ replica: spare.slot, workerPid: spare.worker.process.pid }, 'spare replica activated');
    return spare;
  };

  /** Brings the serving replicas up to `target`: spares first, then new processes. */
  const fillUp = (delayMs = 0): void => {
    while (live().length < target && activateSpare()) {
      // activated one
    }
    if (live().length < target) {
      setTimeout(() => {
        if (stopping) return;
        for (let i = live().length; i < target; i++) fork();
      }, delayMs);
    }
    ensureSpares(delayMs);
  };

  const send = (r: Replica, m: ToReplica): void => {
    try {
      if (r.worker.isConnected()) r.worker.send(m);
    } catch {
      // it is going away
    }
  };

  /** Drains a replica and lets it exit; resolves once it has. */
  const retire = (r: Replica, now = false): Promise<void> => {
    r.retiring = true;
    refreshGauges();
    // A replica that outlives its drain by far is stuck: it is killed rather than waited for forever.
    const limitMs = options.unreadyDelayMs + options.gracePeriodMs + 5_000;
    const timer = setTimeout(() => {
      logger.error({ replica: r.slot, workerPid: r.worker.process.pid, limitMs }, 'replica did not exit after its drain; killing it');
      r.worker.process.kill('SIGKILL');
    }, limitMs);
    const exited = new Promise<void>((resolve) => {
      if (r.worker.isDead()) resolve();
      else r.worker.once('exit', () => resolve());
    }).finally(() => clearTimeout(timer));
    send(r, { mlscale: 'shutdown', now });
    return exited;
  };

  /** Waits until `r` listens; false if it died first. */
  const listening = (r: Replica): Promise<boolean> =>
    new Promise((resolve) => {
      if (r.listening) return resolve(true);
      r.worker.once('listening', () => resolve(true));
      r.worker.once('exit', () => resolve(false));
    });

  cluster.on('exit', (worker, code, signal) => {
    const r = replicas.get(worker.id);
    if (!r) return;
    replicas.delete(worker.id);
    refreshGauges();
    if (r.retiring || stopping) {
      logger.info({ replica: r.slot, workerPid: worker.process.pid, code, signal }, 'replica exited');
      if (stopping && replicas.size === 0) finish();
      return;
    }
    const now = Date.now();
    deaths.push(now);
    while (deaths.length > 0 && deaths[0]! < now - kCrashLoopWindowMs) deaths.shift();
    const upFor = now - r.startedAt;
    // Backoff grows with the deaths of the last kStableMs, host-wide: the first is replaced at once.
    const count = deaths.filter((t) => t >= now - kStableMs).length;
    if (deaths.length >= kCrashLoopDeaths) {
      logger.fatal(
        { replica: r.slot, workerPid: worker.process.pid, code, signal, deaths: deaths.length, windowMs: kCrashLoopWindowMs },
        `replicas died ${deaths.length} times within ${kCrashLoopWindowMs / 1000} s: a crash loop; giving up (fix the cause, then start again)`,
      );
      exitCode = 1;
      void stop(true);
      return;
    }
    const delay = count <= 1 ? 0 : Math.min(kBackoffMaxMs, kBackoffBaseMs * 2 ** (count - 2));
    logger.warn({ replica: r.slot, workerPid: worker.process.pid, code, signal, upForMs: upFor, restartInMs: delay, spare: r.standby }, 'replica died; starting a new one');
    restarts.inc();
    fillUp(delay);
  });

  /** Replaces every replica, one at a time: the new one listens before the old one drains. */
  const rollingRestart = (why: string): Promise<void> => {
    restarting ??= (async () => {
      logger.info({ reason: why, replicas: live().length }, 'rolling restart');
      for (const old of live()) {
        if (stopping) return;
        if (old.retiring || !replicas.has(old.worker.id)) continue;
        const fresh = fork(old.slot);
        if (!(await listening(fresh))) {
          logger.error({ replica: old.slot }, 'rolling restart stopped: the new replica died before listening; the old one keeps serving');
          return;
        }
        await retire(old);
      }
      // Spares loaded the old models or settings too.
      const stale = spares();
      for (const spare of stale) void retire(spare);
      ensureSpares();
      logger.info({ replicas: live().length }, 'rolling restart done');
    })().finally(() => (restarting = undefined));
    return restarting;
  };

  const sampleSignals = async (): Promise<Signals | undefined> => {
    const running = [...replicas.values()].filter((r) => r.listening && !r.retiring);
    if (running.length === 0) return undefined;
    const answers = (await Promise.all(running.map((r) => request<Extract<ToPrimary, { mlscale: 'sampled' }>>(r, (id) => ({ mlscale: 'sample', id }))))).filter(
      (a) => a !== undefined,
    );
    if (answers.length === 0) return undefined;
    const share = cores / running.length;
    const idle = answers.map((a) => 1 - Math.min(1, a.cpuMs / Math.max(1, a.elapsedMs * share)));
    return {
      timeMs: Date.now(),
      ongoingRequests: answers.reduce((s, a) => s + a.ongoing, 0),
      queueDepth: answers.reduce((s, a) => s + a.queueDepth, 0),
      cpuIdle: idle.reduce((s, v) => s + v, 0) / idle.length,
    };
  };

  const autoscaleOnce = async (): Promise<void> => {
    if (!policy || !autoState || stopping || restarting) return;
    const signals = await sampleSignals();
    if (!signals) return;
    const { state, decision } = autoscale(policy, autoState, signals);
    fleetDashboard?.decisions.record(decision, { replicas: autoState.replicas, instancesPerReplica: autoState.instancesPerReplica });
    autoState = state;
    if (decision.action === 'hold') {
      // Every second: worth seeing only when asking why nothing scales.
      logger.debug({ decision: decision.action, replicas: decision.replicas, instancesPerReplica: decision.instancesPerReplica, signal: decision.signal }, `autoscaler: hold: ${decision.reason}`);
      return;
    }
    scaling.inc({ action: decision.action });
    const before = target;
    target = decision.replicas;
    const l = layout();
    logger.info(
      { decision: decision.action, replicas: decision.replicas, instancesPerReplica: decision.instancesPerReplica, intraOpThreads: l.intraOpThreads ?? given.intraOpThreads, signal: decision.signal },
      `autoscaler: ${decision.action}: ${decision.reason}`,
    );
    const why = `autoscaler: ${decision.action}`;
    refreshGauges();
    if (target < before) {
      // The survivors take the freed cores only once the removed replicas have exited.
      const leaving = live().sort((a, b) => b.slot - a.slot).slice(0, live().length - target);
      void Promise.all(leaving.map((r) => retire(r))).then(() => pushLayout(why));
      return;
    }
    // Scaling up: the running replicas shrink to the new share at once (new ones start with it).
    pushLayout(why);
    if (target > before) fillUp();
  };

  const finish = (): void => {
    if (autoscaleTimer) clearInterval(autoscaleTimer);
    fleetDashboard?.stop();
    clearTimeout(spareTimer);
    clearTimeout(settle);
    watcher?.close();
    process.off('SIGHUP', onHup);
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    logger.info({ code: exitCode }, exitCode === 0 ? 'shut down cleanly' : 'shut down after a crash loop');
    resolveDone(exitCode);
  };

  let signals = 0;
  const stop = async (now: boolean): Promise<void> => {
    stopping = true;
    const all = [...replicas.values()];
    if (all.length === 0) return finish();
    await Promise.all(all.map((r) => retire(r, now)));
  };
  const onStop = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) logger.info({ signal, gracePeriodMs: options.gracePeriodMs }, 'shutting down: draining every replica');
    else logger.warn({ signal }, 'second signal: cutting the drain short');
    void stop(signals > 1);
  };
  const onHup = (): void => void rollingRestart('SIGHUP');

  // A change in the model repository (a new version, a replaced model.onnx, a config.json) restarts
  // the replicas one by one once the writes have settled, so each loads the repository afresh.
  let watcher: FSWatcher | undefined;
  let settle: NodeJS.Timeout | undefined;
  const onRepositoryChange = (): void => {
    clearTimeout(settle);
    settle = setTimeout(() => {
      if (stopping) return;
      if (restarting) void restarting.then(onRepositoryChange);
      else void rollingRestart('the model repository changed');
    }, kRepositorySettleMs);
  };
  if (options.modelRepository !== undefined) {
    try {
      watcher = watch(options.modelRepository, { recursive: true }, onRepositoryChange);
      watcher.on('error', (err) => logger.warn({ err }, 'watching the model repository failed; restart with SIGHUP after changing it'));
    } catch (err) {
      logger.warn({ err }, 'cannot watch the model repository; restart with SIGHUP after changing it');
    }
  }
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHup);

  // The dashboard's fleet view: every listening replica's metrics merged, once a second.
  const fleetDashboard = options.dashboard
    ? new FleetDashboard(
        async () => {
          const serving = [...replicas.values()].filter((r) => r.listening && !r.retiring && r.worker.isConnected());
          const answers = await Promise.all(serving.map((r) => request<Extract<ToPrimary, { mlscale: 'collected' }>>(r, (id) => ({ mlscale: 'collect', id }))));
          return AggregatorRegistry.aggregate(answers.filter((a) => a !== undefined).map((a) => a.metrics)).getMetricsAsJSON();
        },
        () => [...replicas.values()].filter((r) => r.listening && !r.retiring).length,
      ).start()
    : undefined;
  refreshGauges();
  for (let i = 0; i < target; i++) fork();
  // The spares start once the replicas have listened, so they do not slow the first start.
  if (clusterOptions.spares > 0) void Promise.all(live().map(listening)).then(() => ensureSpares());
  if (auto) {
    autoscaleTimer = setInterval(() => void autoscaleOnce().catch((err: unknown) => logger.error({ err }, 'autoscaler failed')), kAutoscaleIntervalMs);
  }
  return done;
}

/** A layout for log messages: "2 instance(s) x 1 intra-op thread(s) per model". */
function describeLayout(l: Layout): string {
  const parts = [l.instances !== undefined ? `${l.instances} instance(s)` : 'the instances given', l.intraOpThreads !== undefined ? `${l.intraOpThreads} intra-op thread(s) each` : 'the threads given'];
  return `${parts.join(' x ')} per model`;
}

/**
 * Runs one replica: the ordinary server, with GET /metrics merged by the primary, answering the
 * primary's metrics and signals requests, and draining when told to. Resolves with the exit code.
 */
export async function runReplica(options: Readonly<ServeOptions>, logger: Logger): Promise<number> {
  const slot = Number(process.env['MLSCALE_REPLICA']);
  const waiting = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
  let nextId = 1;
  const metricsText = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the primary did not answer the metrics request'));
      }, kIpcTimeoutMs * 2);
      waiting.set(id, {
        resolve: (t) => {
          clearTimeout(timer);
          resolve(t);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      process.send!({ mlscale: 'metrics-request', id } satisfies ToPrimary);
    });

  // Told to stop while still loading (a spare started just before a shutdown or a rolling restart):
  // remembered, and acted on once the models are loaded.
  let stopWhileLoading: { now: boolean } | undefined;
  const early = (message: ToReplica): void => {
    if (typeof message === 'object' && message !== null && 'mlscale' in message && message.mlscale === 'shutdown') stopWhileLoading = { now: message.now === true };
  };
  const earlyEnd = (): void => void (stopWhileLoading ??= { now: false });
  process.on('message', early);
  process.once('disconnect', earlyEnd);
  process.once('SIGTERM', earlyEnd);
  const dashboardClient = new PrimaryDashboardClient((m) => process.send!(m satisfies ToPrimary));
  let server: ModelServer;
  try {
    server = await createServer(options, logger.child({ replica: slot }), { metricsText, stopAcceptingOnDrain: true, dashboardActivity: (since) => dashboardClient.activity(since) });
  } catch (err) {
    // Without the IPC channel the process exits once the error is reported; the primary sees a death.
    letGo(1);
    throw err;
  } finally {
    process.off('message', early);
    process.off('disconnect', earlyEnd);
    process.off('SIGTERM', earlyEnd);
  }
  if (stopWhileLoading) {
    await server.close({ now: true });
    letGo(0);
    return 0;
  }
  let lastCpu = process.cpuUsage();
  let lastTime = performance.now();
  // One resize at a time, in the order the primary sent them.
  let resizing: Promise<void> = Promise.resolve();
  const resize = (l: Layout): Promise<void> =>
    (resizing = resizing.then(async () => {
      if (closing) return;
      const size = { ...(l.instances !== undefined ? { instances: l.instances } : {}), ...(l.intraOpThreads !== undefined ? { intraOpThreads: l.intraOpThreads } : {}) };
      for (const r of await server.repository.resize(size)) {
        const fields = { replica: slot, model: r.name, version: r.version, instances: r.instances, intraOpThreads: r.intraOpThreads };
        // A model being unloaded or a replica shutting down has nothing left to resize.
        if (r.error instanceof ShuttingDownError || r.error instanceof ModelNotReadyError) continue;
        if (r.error) logger.error({ ...fields, err: r.error }, 'model could not be resized; it keeps its instances');
        else if (r.changed) logger.info(fields, `model resized in place: ${r.instances} instance(s) x ${r.intraOpThreads} intra-op thread(s)`);
      }
    }));
  let closing: Promise<void> | undefined;
  const close = (now: boolean): Promise<void> => {
    if (now) void server.close({ now: true });
    closing ??= server.close();
    return closing;
  };

  let resolve!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolve = r));
  const drainAndExit = (now: boolean): void => {
    close(now).then(
      () => resolve(0),
      (err: unknown) => {
        logger.error({ err }, 'replica shutdown failed');
        resolve(1);
      },
    );
  };
  {
    process.on('message', (message: ToReplica) => {
      if (typeof message !== 'object' || message === null || !('mlscale' in message)) return;
      switch (message.mlscale) {
        case 'collect':
          for (const m of server.repository.models()) m.refreshGauges();
          void server.metrics.registry.getMetricsAsJSON().then((metrics) => process.send!({ mlscale: 'collected', id: message.id, metrics } satisfies ToPrimary));
          break;
        case 'sample': {
          let ongoing = 0;
          let queueDepth = 0;
          for (const m of server.repository.models()) {
            const b = m.statistics().batcher;
            ongoing += b.inFlight;
            queueDepth += b.depth;
          }
          const cpu = process.cpuUsage(lastCpu);
          const now = performance.now();
          process.send!({ mlscale: 'sampled', id: message.id, ongoing, queueDepth, cpuMs: (cpu.user + cpu.system) / 1000, elapsedMs: now - lastTime } satisfies ToPrimary);
          lastCpu = process.cpuUsage();
          lastTime = now;
          break;
        }
        case 'metrics': {
          const w = waiting.get(message.id);
          waiting.delete(message.id);
          if (message.text !== undefined) w?.resolve(message.text);
          else w?.reject(new Error(message.error ?? 'no metrics'));
          break;
        }
        case 'shutdown':
          drainAndExit(message.now === true);
          break;
        case 'dashboard':
          dashboardClient.answer(message);
          break;
        case 'resize':
          void resize(message);
          break;
      }
    });
    // The primary going away (killed) leaves this replica orphaned: drain and exit.
    process.on('disconnect', () => drainAndExit(false));
  }
  // Ctrl-C and a closed terminal reach the whole process group; the primary orchestrates those.
  // SIGTERM (a service manager stops the group, or one replica is stopped) drains this replica.
  process.on('SIGINT', () => undefined);
  process.on('SIGHUP', () => undefined);
  process.on('SIGTERM', () => drainAndExit(false));

  if (process.env['MLSCALE_STANDBY'] === '1') {
    // A spare: loaded, waiting to be told to listen (or to shut down).
    process.send!({ mlscale: 'loaded' } satisfies ToPrimary);
    const activated = await Promise.race([
      new Promise<boolean>((resolve) => {
        const onMessage = (m: ToReplica): void => {
          if (typeof m === 'object' && m !== null && 'mlscale' in m && m.mlscale === 'activate') {
            process.off('message', onMessage);
            resolve(true);
          }
        };
        process.on('message', onMessage);
      }),
      exited.then(() => false),
    ]);
    if (activated) await server.listen();
  } else {
    await server.listen();
  }
  const code = await exited;
  letGo(code);
  return code;
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
