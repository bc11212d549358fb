/**
 * The model repository's files: which models a source holds, where the files of a model's latest
 * version are, and which names a model may take (see repository.ts for the loads and unloads).
 *
 * Layouts:
 * - one model: `--model runs/churn` (an artifact folder with model.onnx, served as "churn"
 *   version "1") or `--model path/to/churn.onnx`;
 * - a repository: `--model-repository models/` holding `<model>/<version>/model.onnx` with numeric
 *   versions, and an optional `<model>/config.json`. The highest version is served.
 *
 * @module
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join, resolve, sep } from 'node:path';
import { ModelLoadError, ModelNotFoundError } from '../errors.js';
import { METADATA_FILE, MODEL_FILE, metadataPathOf, variantFiles } from '../model/artifact.js';
import { kModelConfigFile } from './model-config.js';
import { kTritonConfigFile } from './triton/config-pbtxt.js';

/** Where models come from. */
export type RepositorySource =
  | {
      readonly kind: 'single';
      readonly path: string;
      /** Serve the folder's `model.<variant>.onnx`. */ readonly variant?: string;
    }
  | { readonly kind: 'repository'; readonly root: string };

/** Model names: letters, digits, `_`, `-`, `.`; never a path. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Checks a model name from a URL or a folder: no path traversal out of the repository. */
export function checkModelName(name: string): string {
  if (!MODEL_NAME.test(name) || name.includes('..')) {
    throw new ModelNotFoundError(
      `invalid model name ${JSON.stringify(name)}: use letters, digits, '_', '-' and '.'`,
    );
  }
  return name;
}

/** Names of the models on disk. */
export async function scanModels(source: RepositorySource): Promise<string[]> {
  if (source.kind === 'single') return [singleModelName(source.path, source.variant)];
  const root = resolve(source.root);
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (err) {
    throw new ModelLoadError(
      `--model-repository ${root}: cannot read the folder: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return entries
    .filter((e) => e.isDirectory() && MODEL_NAME.test(e.name))
    .map((e) => e.name)
    .sort();
}

/** Finds the files of a model's latest version. */
export async function locateModel(
  source: RepositorySource,
  name: string,
): Promise<{
  version: string;
  modelPath: string;
  configPath: string;
  metadataPath: string;
  /** A Triton `config.pbtxt`, looked for in model folders (not beside a lone .onnx file). */
  tritonConfigPath?: string;
}> {
  if (source.kind === 'single') {
    const path = resolve(source.path);
    const variant = source.variant;
    if (name !== singleModelName(path, variant))
      throw new ModelNotFoundError(`unknown model "${name}"`);
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new ModelLoadError(`--model ${path}: no such file or folder`);
    if (info.isDirectory()) {
      const files =
        variant === undefined
          ? { model: MODEL_FILE, metadata: METADATA_FILE }
          : variantFiles(variant);
      const modelPath = join(path, files.model);
      if (variant !== undefined && !(await stat(modelPath).catch(() => undefined))) {
        throw new ModelLoadError(
          `--variant ${variant}: ${path} holds no ${files.model} (write it with 'mlscale optimize ${path} --${variant}')`,
        );
      }
      // A variant keeps the folder's config.json: it is the same model, served the same way.
      return {
        version: '1',
        modelPath,
        configPath: join(path, kModelConfigFile),
        tritonConfigPath: join(path, kTritonConfigFile),
        metadataPath: join(path, files.metadata),
      };
    }
    if (variant !== undefined)
      throw new ModelLoadError(
        `--variant ${variant} needs --model to be a model folder; ${path} is a file (serve the variant's own .onnx file instead)`,
      );
    return {
      version: '1',
      modelPath: path,
      configPath: path.replace(/\.onnx$/, '.config.json'),
      metadataPath: metadataPathOf(path),
    };
  }
  const root = resolve(source.root);
  const dir = resolve(root, name);
  // The name is checked already; this guards against a symlinked or odd name leaving the root.
  if (!dir.startsWith(root + sep))
    throw new ModelNotFoundError(`invalid model name ${JSON.stringify(name)}`);
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    throw new ModelNotFoundError(`model "${name}" is not in the repository ${root}`);
  }
  const versions = entries
    .filter((e) => e.isDirectory() && /^[1-9][0-9]{0,15}$/.test(e.name))
    .map((e) => e.name);
  if (versions.length === 0) {
    throw new ModelLoadError(
      `${dir}: no version folders (expected ${dir}${sep}<version>${sep}${MODEL_FILE}, version a positive integer)`,
    );
  }
  const version = versions.sort((a, b) => Number(b) - Number(a))[0]!;
  return {
    version,
    modelPath: join(dir, version, MODEL_FILE),
    configPath: join(dir, kModelConfigFile),
    tritonConfigPath: join(dir, kTritonConfigFile),
    metadataPath: join(dir, version, METADATA_FILE),
  };
}

/**
 * Names the protocol's routes take for themselves: `GET /v2/models/stats` lists every model's
 * statistics, so a model named "stats" could never be asked for its metadata.
 */
const kReservedNames = new Set(['stats']);

/** Why a model name cannot be served (a route of the protocol shadows it), or undefined. */
export function reservedNameReason(name: string): string | undefined {
  return kReservedNames.has(name)
    ? `model name "${name}" is reserved: GET /v2/models/${name} lists every model's statistics, so this model's metadata could not be reached; rename its folder`
    : undefined;
}

/** Refuses a model name that a route of the protocol shadows. */
export function checkNotReserved(name: string): void {
  const reason = reservedNameReason(name);
  if (reason !== undefined) throw new ModelLoadError(reason);
}

/**
 * The served name of a single model: the artifact folder's name, or the .onnx file's stem; a
 * folder's variant is served as `<folder>-<variant>`, the name `mlscale optimize` gives a
 * repository model's variant.
 */
export function singleModelName(path: string, variant?: string): string {
  const base = basename(resolve(path));
  const name = extname(base) === '.onnx' ? base.slice(0, -'.onnx'.length) : base;
  const served = variant === undefined ? name : `${name}-${variant}`;
  return MODEL_NAME.test(served) ? served : variant === undefined ? 'model' : `model-${variant}`;
}
