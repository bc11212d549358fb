/**
 * The replicas' lifecycle in the primary: forking them with their layout, warm spares, draining
 * one (with a kill when it outlives its drain by far), and replacing the ones that die, after the
 * restart policy's backoff, until it calls a crash loop.
 *
 * Warm spares: replicas started and loaded but not listening. Starting a process and loading its
 * models takes about a second on an idle machine and several under load; a dead replica's place
 * is taken by a spare at once (it only has to start listening), and a new spare is started behind
 * it. The autoscaler's first step up uses one too.
 *
 * @module
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { IpcRequests } from '../../util/ipc-request.js';
import { describeLayout, layoutEnv, type Layout } from './layout.js';
import { isMessage, type ToPrimary, type ToReplica } from './messages.js';
import type { PrimaryMetrics } from './primary-metrics.js';
import { kCrashLoopWindowMs, RestartPolicy } from './restart-policy.js';

/** How long the primary waits for each replica's answer to a metrics or load request, in ms. */
export const kReplicaAnswerMs = 2_000;

/** One replica, as the primary knows it. */
export interface Replica {
  readonly slot: number;
  /** The layout it was started with or last told (JSON), so each change is sent once. */
  layout: string;
  readonly worker: Worker;
  /** Requests to it and its requests to the primary. */
  readonly ipc: IpcRequests;
  readonly startedAt: number;
  listening: boolean;
  retiring: boolean;
  /** A warm spare: waits, loaded, for 'activate' before it listens. */
  standby: boolean;
  /** Its models are loaded (spares report it; it is implied by listening). */
  loaded: boolean;
}

/** What the supervisor is given. */
export interface SupervisorOptions {
  readonly logger: Logger;
  readonly metrics: PrimaryMetrics;
  /** Spares to keep loaded. */
  readonly spares: number;
  /** How long a replica may take to exit once told to drain before it is killed, in ms. */
  readonly exitLimitMs: number;
  /** The layout replicas run now. */
  readonly layout: () => Layout;
  /** A replica was forked: set up the answers to its requests. */
  readonly onFork: (replica: Replica) => void;
  /**
   * A replica listens: its HTTP port first, then (with `options.grpcPort`) its gRPC port, as
   * `ModelServer.listen` binds them in that order. The first replica's ports announce the server.
   */
  readonly onListening: (replica: Replica, port: number, endpoint: 'http' | 'grpc') => void;
  /** Replicas died too often; the supervisor has begun stopping them all. */
  readonly onCrashLoop: () => void;
  /** Stopping, the last replica has exited. */
  readonly onAllExited: () => void;
}

/** Forks, replaces and drains the replicas of one primary. */
export class Supervisor {
  /** Replicas the primary aims to serve with. */
  target: number;
  #stopping = false;
  readonly #o: SupervisorOptions;
  readonly #replicas = new Map<number, Replica>();
  readonly #policy = new RestartPolicy();
  #nextSlot = 0;
  #spareTimer: NodeJS.Timeout | undefined;
  readonly #onExit = (worker: Worker, code: number, signal: string): void =>
    this.#exited(worker, code, signal);

  constructor(options: SupervisorOptions, target: number) {
    this.#o = options;
    this.target = target;
    cluster.on('exit', this.#onExit);
  }

  /** Whether `stop()` has begun. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Every replica, spares and retiring ones included. */
  all(): Replica[] {
    return [...this.#replicas.values()];
  }

  /** Replicas serving or about to: neither retiring nor spares. */
  live(): Replica[] {
    return this.all().filter((r) => !r.retiring && !r.standby);
  }

  /** Warm spares that are not retiring. */
  spares(): Replica[] {
    return this.all().filter((r) => !r.retiring && r.standby);
  }

  /** Replicas listening and not draining. */
  serving(): Replica[] {
    return this.all().filter((r) => r.listening && !r.retiring);
  }

  /** Whether `r` is still one of ours. */
  has(r: Replica): boolean {
    return this.#replicas.has(r.worker.id);
  }

  /** Sets the gauges from the replicas now. */
  refreshGauges(): void {
    this.#o.metrics.replicas.set(this.serving().length);
    this.#o.metrics.target.set(this.target);
  }

  /** Forks the target's replicas, then the spares once those listen (so they do not slow the first start). */
  start(): void {
    this.refreshGauges();
    for (let i = 0; i < this.target; i++) this.fork();
    if (this.#o.spares > 0)
      void Promise.all(this.live().map((r) => this.listening(r))).then(() => this.ensureSpares());
  }

  /** Forks a replica into `slot` (a fresh one by default); a spare with `standby`. */
  fork(slot = this.#nextSlot++, standby = false): Replica {
    const l = this.#o.layout();
    const worker = cluster.fork({
      MLSCALE_REPLICA: String(slot),
      ...(standby ? { MLSCALE_STANDBY: '1' } : {}),
      ...layoutEnv(l),
    });
    // Checked first: sending on a closed channel emits 'error' on the worker instead of throwing.
    const ipc = new IpcRequests(
      (m) => {
        if (!worker.isConnected()) throw new Error('its IPC channel is closed');
        worker.send(m);
      },
      { peer: `replica ${slot}`, timeoutMs: kReplicaAnswerMs },
    );
    const replica: Replica = {
      slot,
      layout: JSON.stringify(l),
      worker,
      ipc,
      startedAt: Date.now(),
      listening: false,
      retiring: false,
      standby,
      loaded: false,
    };
    this.#replicas.set(worker.id, replica);
    this.#o.logger.info(
      { replica: slot, workerPid: worker.process.pid, spare: standby },
      standby ? 'spare replica started' : 'replica started',
    );
    worker.on('listening', (address) => {
      if (replica.listening) {
        this.#o.onListening(replica, address.port, 'grpc');
        return;
      }
      replica.listening = true;
      replica.loaded = true;
      this.refreshGauges();
      this.#o.logger.info({ replica: slot, workerPid: worker.process.pid }, 'replica listening');
      // Started before the last change of layout (a spare, or forked just before a scale).
      this.#tellLayout(replica);
      this.#o.onListening(replica, address.port, 'http');
    });
    worker.on('message', (message: unknown) => {
      if (ipc.receive(message)) return;
      if (isMessage<ToPrimary>(message, 'loaded')) {
        replica.loaded = true;
        this.#o.logger.info(
          { replica: slot, workerPid: worker.process.pid },
          'spare replica loaded',
        );
        this.#tellLayout(replica);
      }
    });
    this.#o.onFork(replica);
    return replica;
  }

  /** Tells `r` the current layout if it runs another and can act on it (loaded, not leaving). */
  syncLayout(r: Replica, l = this.#o.layout()): boolean {
    const key = JSON.stringify(l);
    if (r.layout === key || !r.loaded || r.retiring || !r.worker.isConnected()) return false;
    r.layout = key;
    this.send(r, { mlscale: 'resize', ...l });
    return true;
  }

  /** Tells every replica (spares too) the current layout; logs it once if anyone's changed. */
  pushLayout(why: string): void {
    if (this.#stopping) return;
    const l = this.#o.layout();
    const told = this.all()
      .filter((r) => this.syncLayout(r, l))
      .map((r) => r.slot);
    if (told.length > 0)
      this.#o.logger.info(
        { ...l, replicas: told, reason: why },
        `replicas resize their instances in place: ${describeLayout(l)} (${why})`,
      );
  }

  #tellLayout(r: Replica): void {
    if (this.syncLayout(r))
      this.#o.logger.info(
        { replica: r.slot, ...this.#o.layout() },
        `replica told its new layout: ${describeLayout(this.#o.layout())}`,
      );
  }

  /** Keeps the spares the options ask for, started after `delayMs`. */
  ensureSpares(delayMs = 0): void {
    if (this.#stopping || this.#spareTimer) return;
    this.#spareTimer = setTimeout(() => {
      this.#spareTimer = undefined;
      if (this.#stopping) return;
      for (let i = this.spares().length; i < this.#o.spares; i++) this.fork(this.#nextSlot++, true);
    }, delayMs);
  }

  /** Turns a loaded spare into a serving replica; undefined if none is loaded. */
  activateSpare(): Replica | undefined {
    const spare = this.spares().find((r) => r.loaded && r.worker.isConnected());
    if (!spare) return undefined;
    spare.standby = false;
    this.send(spare, { mlscale: 'activate' });
    this.#o.logger.info(
      { replica: spare.slot, workerPid: spare.worker.process.pid },
      'spare replica activated',
    );
    return spare;
  }

  /** Brings the serving replicas up to the target: spares first, then new processes after `delayMs`. */
  fillUp(delayMs = 0): void {
    while (this.live().length < this.target && this.activateSpare()) {
      // activated one
    }
    if (this.live().length < this.target) {
      setTimeout(() => {
        if (this.#stopping) return;
        for (let i = this.live().length; i < this.target; i++) this.fork();
      }, delayMs);
    }
    this.ensureSpares(delayMs);
  }

  /** Sends an order; a replica going away misses it. */
  send(r: Replica, m: ToReplica): void {
    try {
      if (r.worker.isConnected()) r.worker.send(m);
    } catch {
      // it is going away
    }
  }

  /** Drains a replica and lets it exit (`now`: cut its drain); resolves once it has. */
  retire(r: Replica, now = false): Promise<void> {
    r.retiring = true;
    this.refreshGauges();
    // A replica that outlives its drain by far is stuck: it is killed rather than waited for forever.
    const limitMs = this.#o.exitLimitMs;
    const timer = setTimeout(() => {
      this.#o.logger.error(
        { replica: r.slot, workerPid: r.worker.process.pid, limitMs },
        'replica did not exit after its drain; killing it',
      );
      r.worker.process.kill('SIGKILL');
    }, limitMs);
    const exited = new Promise<void>((resolve) => {
      if (r.worker.isDead()) resolve();
      else r.worker.once('exit', () => resolve());
    }).finally(() => clearTimeout(timer));
    this.send(r, { mlscale: 'shutdown', now });
    return exited;
  }

  /** Waits until `r` listens; false if it died first. */
  listening(r: Replica): Promise<boolean> {
    return new Promise((resolve) => {
      if (r.listening) return resolve(true);
      r.worker.once('listening', () => resolve(true));
      r.worker.once('exit', () => resolve(false));
    });
  }

  /** Drains every replica (`now`: cuts their drains); `onAllExited` follows the last exit. */
  async stop(now: boolean): Promise<void> {
    this.#stopping = true;
    const all = this.all();
    if (all.length === 0) return this.#o.onAllExited();
    await Promise.all(all.map((r) => this.retire(r, now)));
  }

  /** Lets go of the cluster's events and timers. */
  dispose(): void {
    cluster.off('exit', this.#onExit);
    clearTimeout(this.#spareTimer);
  }

  #exited(worker: Worker, code: number, signal: string): void {
    const r = this.#replicas.get(worker.id);
    if (!r) return;
    this.#replicas.delete(worker.id);
    r.ipc.close(`it exited with ${signal ?? `code ${code}`}`);
    this.refreshGauges();
    const log = this.#o.logger;
    if (r.retiring || this.#stopping) {
      log.info({ replica: r.slot, workerPid: worker.process.pid, code, signal }, 'replica exited');
      if (this.#stopping && this.#replicas.size === 0) this.#o.onAllExited();
      return;
    }
    const now = Date.now();
    const verdict = this.#policy.died(now);
    if (verdict.crashLoop) {
      log.fatal(
        {
          replica: r.slot,
          workerPid: worker.process.pid,
          code,
          signal,
          deaths: verdict.deaths,
          windowMs: kCrashLoopWindowMs,
        },
        `replicas died ${verdict.deaths} times within ${kCrashLoopWindowMs / 1000} s: a crash loop; giving up (fix the cause, then start again)`,
      );
      this.#o.onCrashLoop();
      void this.stop(true);
      return;
    }
    log.warn(
      {
        replica: r.slot,
        workerPid: worker.process.pid,
        code,
        signal,
        upForMs: now - r.startedAt,
        restartInMs: verdict.restartInMs,
        spare: r.standby,
      },
      'replica died; starting a new one',
    );
    this.#o.metrics.restarts.inc();
    this.fillUp(verdict.restartInMs);
  }
}
