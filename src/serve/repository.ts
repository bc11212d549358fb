/**
 * The model repository: which models exist, which version of each is served, and their state.
 * Its files (layouts, scanning, locating a version, model names) are in repository-files.ts.
 *
 * Loading a new version keeps the old one serving until the new one is ready, then drains the old
 * one (its queued and running requests finish) before closing it: no request is dropped.
 *
 * @module
 */
import {
  ModelLoadError,
  ModelNotFoundError,
  ModelNotReadyError,
  ShuttingDownError,
} from '../errors.js';
import { readModelConfig } from './model-config.js';
import { readTritonConfig } from './triton/config-pbtxt.js';
import { defaultModelSettings, type ModelSettings } from './options.js';
import { ServedModel, type ServedModelHooks } from './served-model.js';
import {
  checkModelName,
  checkNotReserved,
  locateModel,
  reservedNameReason,
  scanModels,
  type RepositorySource,
} from './repository-files.js';

export { checkModelName, singleModelName, type RepositorySource } from './repository-files.js';

/** The state of a model version, as the repository index reports it. */
export type ModelState = 'LOADING' | 'READY' | 'UNAVAILABLE' | 'UNLOADING';

/** One row of the repository index. */
export interface IndexEntry {
  readonly name: string;
  readonly version: string;
  readonly state: ModelState;
  readonly reason: string;
}

interface Slot {
  /** The version answering requests that name no version. */
  current?: ServedModel;
  /** Every loaded version by version string (current included). */
  versions: Map<string, ServedModel>;
  /**
   * The last load's failure, until a load succeeds or the model is unloaded: with nothing loaded it
   * is the model's state; beside a version that still serves, the index reports it on its own row.
   */
  failure?: { version: string; reason: string };
}

/** Loads, serves and unloads the models of one source. */
export class ModelRepository {
  readonly #source: RepositorySource;
  #overrides: Readonly<Partial<ModelSettings>>;
  readonly #hooks: ServedModelHooks;
  readonly #slots = new Map<string, Slot>();
  /**
   * The tail of each model name's chain of loads and unloads. Keyed by name, not kept in the slot:
   * an unload drops the slot, and an operation queued on a dropped slot ran beside one queued on
   * its successor, which left two slots (and two served copies) for one name.
   */
  readonly #chains = new Map<string, Promise<unknown>>();
  /** The models close() is closing. */
  readonly #closing = new Set<ServedModel>();
  /** Set by close(): loads are refused, and one that finishes afterwards closes what it loaded. */
  #closed = false;

  constructor(
    source: RepositorySource,
    overrides: Readonly<Partial<ModelSettings>>,
    hooks: ServedModelHooks = {},
  ) {
    this.#source = source;
    this.#overrides = overrides;
    this.#hooks = hooks;
  }

  /** Names of the models on disk. */
  async scan(): Promise<string[]> {
    return scanModels(this.#source);
  }

  /** Loads every model found; a model that fails is kept as UNAVAILABLE with its reason. */
  async loadAll(): Promise<void> {
    await Promise.all(
      (await this.scan()).map((name) => {
        // A folder under a reserved name is reported (the server stays unready until it is
        // renamed); a load asked for by name is refused without a trace (see `load`).
        const reserved = reservedNameReason(name);
        if (reserved !== undefined) {
          this.#slot(name).failure = { version: '?', reason: reserved };
          return undefined;
        }
        return this.load(name).catch(() => undefined);
      }),
    );
  }

  /**
   * (Re)loads a model's latest version from disk. The old version serves until the new one is
   * ready, then drains. Rejects with the load error (the model keeps serving what it had).
   */
  load(name: string): Promise<ServedModel> {
    try {
      checkModelName(name);
      // Refused before anything is recorded: a refused load leaves no state (readiness unchanged).
      checkNotReserved(name);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#closed)
      return Promise.reject(
        new ShuttingDownError('the server is shutting down and loads no models'),
      );
    // Known at once, so that requests during a first load get "not ready" (503), not "unknown" (404).
    this.#slot(name);
    return this.#serialise(name, () => this.#load(name));
  }

  async #load(name: string): Promise<ServedModel> {
    // Looked up when the load runs: an unload queued before it may have dropped the slot.
    const slot = this.#slot(name);
    let version = '?';
    try {
      const found = await locateModel(this.#source, name);
      version = found.version;
      const config = await readModelConfig(found.configPath);
      const triton = found.tritonConfigPath
        ? await readTritonConfig(found.tritonConfigPath, name)
        : undefined;
      // Precedence: flags, then config.json, then config.pbtxt, then the defaults.
      const settings: ModelSettings = {
        ...defaultModelSettings(),
        ...triton?.settings,
        ...config,
        ...this.#overrides,
      };
      const model = await ServedModel.load(
        {
          name,
          version,
          path: found.modelPath,
          metadataPath: found.metadataPath,
          settings,
          ...(triton ? { tritonConfig: triton } : {}),
        },
        this.#hooks,
      );
      if (this.#closed) {
        // The server began shutting down while this version loaded: nothing else would ever close its instances.
        await model.close({ drain: false });
        throw new ShuttingDownError(
          `model "${name}" version ${version} finished loading after the server began shutting down; it was closed`,
        );
      }
      const previous = slot.versions.get(version);
      // A failed load of an unknown model may have dropped the slot while this one loaded.
      if (!this.#slots.has(name)) this.#slots.set(name, slot);
      slot.versions.set(version, model);
      slot.current = model;
      slot.failure = undefined;
      // Retire what was served before: other versions and a reloaded copy of this one.
      const retired = [...slot.versions.entries()]
        .filter(([v, m]) => m !== model && v !== version)
        .map(([, m]) => m);
      if (previous && previous !== model) retired.push(previous);
      for (const old of retired) {
        if (slot.versions.get(old.version) === old) slot.versions.delete(old.version);
      }
      await Promise.all(retired.map((old) => old.close({ drain: true })));
      return model;
    } catch (err) {
      const reason = (err as Error).message;
      if (err instanceof ModelNotFoundError) {
        // A model that is not in the repository is unknown (404), not a failed model that keeps the server unready.
        if (!slot.current && this.#slots.get(name) === slot) this.#slots.delete(name);
      } else if (!(err instanceof ShuttingDownError)) {
        // Kept even while an older version serves: the repository index reports it (Triton's state and reason).
        slot.failure = { version, reason };
      }
      throw err instanceof ModelLoadError ||
        err instanceof ModelNotFoundError ||
        err instanceof ShuttingDownError
        ? err
        : new ModelLoadError(`${name}: ${reason}`, { cause: err });
    }
  }

  /** Unloads every version of a model, letting their requests finish first. */
  unload(name: string): Promise<void> {
    try {
      checkModelName(name);
    } catch (err) {
      return Promise.reject(err);
    }
    const notLoaded = (slot: Slot | undefined): boolean =>
      !slot || (slot.versions.size === 0 && !slot.failure);
    // Refused at once when nothing is loaded or loading; otherwise decided in turn, after the operations queued before it.
    if (notLoaded(this.#slots.get(name)) && !this.#chains.has(name))
      return Promise.reject(new ModelNotFoundError(`model "${name}" is not loaded`));
    return this.#serialise(name, async () => {
      const slot = this.#slots.get(name);
      if (!slot || notLoaded(slot)) throw new ModelNotFoundError(`model "${name}" is not loaded`);
      const models = [...slot.versions.values()];
      slot.versions.clear();
      slot.current = undefined;
      slot.failure = undefined;
      this.#slots.delete(name);
      await Promise.all(models.map((m) => m.close({ drain: true })));
    });
  }

  /** Runs `operation` after every load and unload of `name` queued before it. */
  #serialise<T>(name: string, operation: () => Promise<T>): Promise<T> {
    const run = (this.#chains.get(name) ?? Promise.resolve()).then(operation);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.#chains.set(name, tail);
    void tail.then(() => {
      if (this.#chains.get(name) === tail) this.#chains.delete(name);
    });
    return run;
  }

  /**
   * The model version that answers a request. Rejects with ModelNotFoundError (404) for an unknown
   * model or version, ModelNotReadyError (503) for one that cannot answer now, with the reason.
   */
  get(name: string, version?: string): ServedModel {
    // Slots exist only under names `load` checked: the pattern test runs for unknown names alone,
    // not on every inference request.
    const slot = this.#slots.get(name);
    if (!slot) {
      checkModelName(name);
      throw new ModelNotFoundError(`unknown model "${name}"${this.#names()}`);
    }
    if (version !== undefined) {
      const model = slot.versions.get(version);
      if (!model) {
        throw new ModelNotFoundError(
          `model "${name}" has no version "${version}"; loaded versions: ${[...slot.versions.keys()].join(', ') || 'none'}`,
        );
      }
      return model;
    }
    if (!slot.current) {
      throw new ModelNotReadyError(
        `model "${name}" is not ready${slot.failure ? `: ${slot.failure.reason}` : ''}`,
      );
    }
    return slot.current;
  }

  /** Every model version with its state, for the repository index and the readiness check. */
  index(): IndexEntry[] {
    const out: IndexEntry[] = [];
    for (const [name, slot] of [...this.#slots.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const failure = slot.failure;
      for (const model of slot.versions.values()) {
        const health = model.health();
        // A failed reload of the version that serves: it still serves; the reason says what failed.
        const reason =
          failure?.version === model.version && health.state === 'READY'
            ? `reload failed: ${failure.reason}`
            : (health.reason ?? '');
        out.push({ name, version: model.version, state: health.state, reason });
      }
      if (failure && !slot.versions.has(failure.version)) {
        out.push({ name, version: failure.version, state: 'UNAVAILABLE', reason: failure.reason });
      }
    }
    return out;
  }

  /** Every served model version. */
  models(): ServedModel[] {
    return [...this.#slots.values()].flatMap((s) => [...s.versions.values()]);
  }

  /**
   * Serves every loaded model with these instances and intra-op threads from now on, without
   * dropping a request, and loads later versions with them too (a replica gets them from its
   * primary: the autoscaler's instances, a new thread split after scaling). Settings left out keep
   * each model's own.
   * @returns per model version, whether it changed, or why it could not (it keeps what it had).
   */
  async resize(size: { readonly instances?: number; readonly intraOpThreads?: number }): Promise<
    {
      name: string;
      version: string;
      instances: number;
      intraOpThreads: number;
      changed: boolean;
      error?: Error;
    }[]
  > {
    const given = Object.fromEntries(Object.entries(size).filter(([, v]) => v !== undefined));
    this.#overrides = Object.freeze({ ...this.#overrides, ...given });
    return Promise.all(
      this.models().map(async (m) => {
        const target = {
          instances: size.instances ?? m.settings.instances,
          intraOpThreads: size.intraOpThreads ?? m.settings.intraOpThreads,
        };
        const base = { name: m.name, version: m.version, ...target };
        try {
          return { ...base, changed: await m.resize(target) };
        } catch (err) {
          return { ...base, changed: false, error: err as Error };
        }
      }),
    );
  }

  /** Closes every model; `drain` lets queued requests finish first. */
  async close(options: { drain: boolean }): Promise<void> {
    this.#closed = true;
    // Remembered, so that a later close without drain (the end of the grace period) still reaches them.
    for (const m of this.models()) this.#closing.add(m);
    this.#slots.clear();
    await Promise.all([...this.#closing].map((m) => m.close(options)));
  }

  #slot(name: string): Slot {
    let slot = this.#slots.get(name);
    if (!slot) {
      slot = { versions: new Map() };
      this.#slots.set(name, slot);
    }
    return slot;
  }

  #names(): string {
    const names = [...this.#slots.keys()];
    return names.length
      ? `; models: ${names.map((n) => `"${n}"`).join(', ')}`
      : '; no models are loaded';
  }
}
