/**
 * The model repository: which models exist, which version of each is served, and their state.
 *
 * Layouts:
 * - one model: `--model runs/churn` (an artifact folder with model.onnx, served as "churn"
 *   version "1") or `--model path/to/churn.onnx`;
 * - a repository: `--model-repository models/` holding `<model>/<version>/model.onnx` with numeric
 *   versions, and an optional `<model>/config.json`. The highest version is served.
 *
 * Loading a new version keeps the old one serving until the new one is ready, then drains the old
 * one (its queued and running requests finish) before closing it: no request is dropped.
 *
 * @module
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join, resolve, sep } from 'node:path';
import { ModelLoadError, ModelNotFoundError, ModelNotReadyError, ShuttingDownError } from '../errors.js';
import { readModelConfig } from './model-config.js';
import { defaultModelSettings, type ModelSettings } from './options.js';
import { ServedModel, type ServedModelHooks } from './served-model.js';

/** The state of a model version, as the repository index reports it. */
export type ModelState = 'LOADING' | 'READY' | 'UNAVAILABLE' | 'UNLOADING';

/** One row of the repository index. */
export interface IndexEntry {
  readonly name: string;
  readonly version: string;
  readonly state: ModelState;
  readonly reason: string;
}

/** Where models come from. */
export type RepositorySource = { readonly kind: 'single'; readonly path: string } | { readonly kind: 'repository'; readonly root: string };

/** Model names: letters, digits, `_`, `-`, `.`; never a path. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Checks a model name from a URL or a folder: no path traversal out of the repository. */
export function checkModelName(name: string): string {
  if (!MODEL_NAME.test(name) || name.includes('..')) {
    throw new ModelNotFoundError(`invalid model name ${JSON.stringify(name)}: use letters, digits, '_', '-' and '.'`);
  }
  return name;
}

interface Slot {
  /** The version answering requests that name no version. */
  current?: ServedModel;
  /** Every loaded version by version string (current included). */
  versions: Map<string, ServedModel>;
  /** A failed load's reason, when nothing could be loaded. */
  failure?: { version: string; reason: string };
  /** Serialises load/unload of one model. */
  busy: Promise<unknown>;
}

/** Loads, serves and unloads the models of one source. */
export class ModelRepository {
  readonly #source: RepositorySource;
  readonly #overrides: Readonly<Partial<ModelSettings>>;
  readonly #hooks: ServedModelHooks;
  readonly #slots = new Map<string, Slot>();
  /** The models close() is closing. */
  readonly #closing = new Set<ServedModel>();
  /** Set by close(): loads are refused, and one that finishes afterwards closes what it loaded. */
  #closed = false;

  constructor(source: RepositorySource, overrides: Readonly<Partial<ModelSettings>>, hooks: ServedModelHooks = {}) {
    this.#source = source;
    this.#overrides = overrides;
    this.#hooks = hooks;
  }

  /** Names of the models on disk. */
  async scan(): Promise<string[]> {
    if (this.#source.kind === 'single') return [singleModelName(this.#source.path)];
    const root = resolve(this.#source.root);
    let entries;
    try {
      entries = await readdir(root, { withFileTypes: true });
    } catch (err) {
      throw new ModelLoadError(`--model-repository ${root}: cannot read the folder: ${(err as Error).message}`, { cause: err });
    }
    return entries.filter((e) => e.isDirectory() && MODEL_NAME.test(e.name)).map((e) => e.name).sort();
  }

  /** Loads every model found; a model that fails is kept as UNAVAILABLE with its reason. */
  async loadAll(): Promise<void> {
    await Promise.all((await this.scan()).map((name) => this.load(name).catch(() => undefined)));
  }

  /**
   * (Re)loads a model's latest version from disk. The old version serves until the new one is
   * ready, then drains. Rejects with the load error (the model keeps serving what it had).
   */
  load(name: string): Promise<ServedModel> {
    checkModelName(name);
    if (this.#closed) return Promise.reject(new ShuttingDownError('the server is shutting down and loads no models'));
    const slot = this.#slot(name);
    const run = slot.busy.then(() => this.#load(name, slot));
    slot.busy = run.catch(() => undefined);
    return run;
  }

  async #load(name: string, slot: Slot): Promise<ServedModel> {
    let version = '?';
    try {
      const found = await this.#locate(name);
      version = found.version;
      const config = await readModelConfig(found.configPath);
      const settings: ModelSettings = { ...defaultModelSettings(), ...config, ...this.#overrides };
      const model = await ServedModel.load({ name, version, path: found.modelPath, metadataPath: found.metadataPath, settings }, this.#hooks);
      if (this.#closed) {
        // The server began shutting down while this version loaded: nothing else would ever close its instances.
        await model.close({ drain: false });
        throw new ShuttingDownError(`model "${name}" version ${version} finished loading after the server began shutting down; it was closed`);
      }
      const previous = slot.versions.get(version);
      // An unload (or a failed load of an unknown model) that ran while this load waited dropped the slot: serve from it again.
      if (!this.#slots.has(name)) this.#slots.set(name, slot);
      slot.versions.set(version, model);
      slot.current = model;
      slot.failure = undefined;
      // Retire what was served before: other versions and a reloaded copy of this one.
      const retired = [...slot.versions.entries()].filter(([v, m]) => m !== model && v !== version).map(([, m]) => m);
      if (previous && previous !== model) retired.push(previous);
      for (const old of retired) {
        if (slot.versions.get(old.version) === old) slot.versions.delete(old.version);
      }
      await Promise.all(retired.map((old) => old.close({ drain: true })));
      return model;
    } catch (err) {
      const reason = (err as Error).message;
      if (!slot.current) {
        // A model that is not in the repository is unknown (404), not a failed model that keeps the server unready.
        if (err instanceof ModelNotFoundError) {
          if (this.#slots.get(name) === slot) this.#slots.delete(name);
        } else {
          slot.failure = { version, reason };
        }
      }
      throw err instanceof ModelLoadError || err instanceof ModelNotFoundError || err instanceof ShuttingDownError ? err : new ModelLoadError(`${name}: ${reason}`, { cause: err });
    }
  }

  /** Unloads every version of a model, letting their requests finish first. */
  unload(name: string): Promise<void> {
    checkModelName(name);
    const slot = this.#slots.get(name);
    if (!slot || (slot.versions.size === 0 && !slot.failure)) return Promise.reject(new ModelNotFoundError(`model "${name}" is not loaded`));
    const run = slot.busy.then(async () => {
      const models = [...slot.versions.values()];
      slot.versions.clear();
      slot.current = undefined;
      slot.failure = undefined;
      this.#slots.delete(name);
      await Promise.all(models.map((m) => m.close({ drain: true })));
    });
    slot.busy = run.catch(() => undefined);
    return run;
  }

  /**
   * The model version that answers a request. Rejects with ModelNotFoundError (404) for an unknown
   * model or version, ModelNotReadyError (503) for one that cannot answer now, with the reason.
   */
  get(name: string, version?: string): ServedModel {
    checkModelName(name);
    const slot = this.#slots.get(name);
    if (!slot) throw new ModelNotFoundError(`unknown model "${name}"${this.#names()}`);
    if (version !== undefined) {
      const model = slot.versions.get(version);
      if (!model) {
        throw new ModelNotFoundError(`model "${name}" has no version "${version}"; loaded versions: ${[...slot.versions.keys()].join(', ') || 'none'}`);
      }
      return model;
    }
    if (!slot.current) {
      throw new ModelNotReadyError(`model "${name}" is not ready${slot.failure ? `: ${slot.failure.reason}` : ''}`);
    }
    return slot.current;
  }

  /** Every model version with its state, for the repository index and the readiness check. */
  index(): IndexEntry[] {
    const out: IndexEntry[] = [];
    for (const [name, slot] of [...this.#slots.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      for (const model of slot.versions.values()) {
        const health = model.health();
        out.push({ name, version: model.version, state: health.state, reason: health.reason ?? '' });
      }
      if (slot.versions.size === 0 && slot.failure) {
        out.push({ name, version: slot.failure.version, state: 'UNAVAILABLE', reason: slot.failure.reason });
      }
    }
    return out;
  }

  /** Every served model version. */
  models(): ServedModel[] {
    return [...this.#slots.values()].flatMap((s) => [...s.versions.values()]);
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
      slot = { versions: new Map(), busy: Promise.resolve() };
      this.#slots.set(name, slot);
    }
    return slot;
  }

  #names(): string {
    const names = [...this.#slots.keys()];
    return names.length ? `; models: ${names.map((n) => `"${n}"`).join(', ')}` : '; no models are loaded';
  }

  /** Finds the files of a model's latest version. */
  async #locate(name: string): Promise<{ version: string; modelPath: string; configPath: string; metadataPath: string }> {
    if (this.#source.kind === 'single') {
      const path = resolve(this.#source.path);
      if (name !== singleModelName(path)) throw new ModelNotFoundError(`unknown model "${name}"`);
      const info = await stat(path).catch(() => undefined);
      if (!info) throw new ModelLoadError(`--model ${path}: no such file or folder`);
      if (info.isDirectory()) {
        return { version: '1', modelPath: join(path, 'model.onnx'), configPath: join(path, 'config.json'), metadataPath: join(path, 'metadata.json') };
      }
      return { version: '1', modelPath: path, configPath: path.replace(/\.onnx$/, '.config.json'), metadataPath: path.replace(/\.onnx$/, '.metadata.json') };
    }
    const root = resolve(this.#source.root);
    const dir = resolve(root, name);
    // The name is checked already; this guards against a symlinked or odd name leaving the root.
    if (!dir.startsWith(root + sep)) throw new ModelNotFoundError(`invalid model name ${JSON.stringify(name)}`);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      throw new ModelNotFoundError(`model "${name}" is not in the repository ${root}`);
    }
    const versions = entries.filter((e) => e.isDirectory() && /^[1-9][0-9]{0,15}$/.test(e.name)).map((e) => e.name);
    if (versions.length === 0) {
      throw new ModelLoadError(`${dir}: no version folders (expected ${dir}${sep}<version>${sep}model.onnx, version a positive integer)`);
    }
    const version = versions.sort((a, b) => Number(b) - Number(a))[0]!;
    return {
      version,
      modelPath: join(dir, version, 'model.onnx'),
      configPath: join(dir, 'config.json'),
      metadataPath: join(dir, version, 'metadata.json'),
    };
  }
}

/** The served name of a single model: the artifact folder's name, or the .onnx file's stem. */
export function singleModelName(path: string): string {
  const base = basename(resolve(path));
  const name = extname(base) === '.onnx' ? base.slice(0, -'.onnx'.length) : base;
  return MODEL_NAME.test(name) ? name : 'model';
}
