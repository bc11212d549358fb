/**
 * Where a model to optimise is, and where its variants go.
 *
 * - A .onnx file `dir/m.onnx`: `dir/m.int8.onnx` + `dir/m.int8.metadata.json` (or in `--out`);
 *   `mlscale serve --model dir/m.int8.onnx` serves it (the server reads `<stem>.metadata.json`).
 * - A model folder `runs/x` (model.onnx + metadata.json, as `mlscale train` writes):
 *   `runs/x/model.int8.onnx` + `runs/x/model.int8.metadata.json`, beside the model they came
 *   from, so that retraining into the folder (which replaces it whole) never leaves a variant of
 *   an older model behind; `mlscale serve --model runs/x --variant int8` serves it as `x-int8`.
 * - A repository model `R/name/<v>/`: a sibling model `R/name-int8/<v>/` (same version number),
 *   not a new version of `name`: a repository serves each model's highest version, so a new
 *   version would silently replace the FP32 model for every client, while a sibling is served
 *   beside it, to be compared, swept (`mlscale sweep serve --model name,name-int8`) and chosen.
 *   The model's config.json is copied, so the variant is served with the same settings.
 *
 * @module
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidOptionError, ModelNotFoundError } from '../../errors.js';
import {
  METADATA_FILE,
  MODEL_FILE,
  fileVariantPaths,
  metadataPathOf,
  onnxStem,
  variantFiles,
} from '../artifact.js';
import type { VariantKind } from './options.js';

/** Where one variant is written. */
export interface VariantTarget {
  readonly modelPath: string;
  readonly metadataPath: string;
  /** A config.json to copy beside the variant (repository models), when the source has one. */
  readonly config?: { readonly from: string; readonly to: string };
  /** How to serve it, in words: the command line. */
  readonly serveWith: string;
}

/** The source model and its targets. */
export interface ModelLocation {
  readonly kind: 'file' | 'folder' | 'repository';
  readonly modelPath: string;
  /** Its metadata.json, when there is one. */
  readonly metadataPath?: string;
  /** The model's name, for messages. */
  readonly name: string;
  /** The repository version, for repository models. */
  readonly version?: string;
  target(variant: VariantKind): VariantTarget;
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

/**
 * Finds the model.
 * @param model A .onnx file or a model folder; with `repository`, a model name.
 * @param out For a .onnx file: where variants go instead of beside it.
 * @throws ModelNotFoundError when there is no such file, folder or repository model.
 */
export async function locateModel(
  model: string,
  repository?: string,
  out?: string,
): Promise<ModelLocation> {
  if (repository !== undefined) return locateInRepository(resolve(repository), model);
  const path = resolve(model);
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new ModelNotFoundError(`${path}: no such file or folder`);
  if (info.isDirectory()) {
    const modelPath = join(path, MODEL_FILE);
    if (!(await exists(modelPath)))
      throw new ModelNotFoundError(
        `${path} holds no ${MODEL_FILE} (a model folder holds ${MODEL_FILE} and, from mlscale train, ${METADATA_FILE})`,
      );
    if (out !== undefined)
      throw new InvalidOptionError(
        `options.out applies to a .onnx file; a model folder's variants go into the folder (model.<variant>.onnx)`,
      );
    const metadataPath = join(path, METADATA_FILE);
    return {
      kind: 'folder',
      modelPath,
      ...((await exists(metadataPath)) ? { metadataPath } : {}),
      name: basename(path),
      target: (v) => ({
        modelPath: join(path, variantFiles(v).model),
        metadataPath: join(path, variantFiles(v).metadata),
        serveWith: `mlscale serve --model ${path} --variant ${v}`,
      }),
    };
  }
  const stem = onnxStem(path);
  const metadataPath = metadataPathOf(path);
  const dir = out !== undefined ? resolve(out) : dirname(path);
  return {
    kind: 'file',
    modelPath: path,
    ...((await exists(metadataPath)) ? { metadataPath } : {}),
    name: stem,
    target: (v) => {
      const { model: modelPath, metadata } = fileVariantPaths(path, v, dir);
      return { modelPath, metadataPath: metadata, serveWith: `mlscale serve --model ${modelPath}` };
    },
  };
}

async function locateInRepository(root: string, name: string): Promise<ModelLocation> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(name) || name.includes('..')) {
    throw new ModelNotFoundError(
      `invalid model name ${JSON.stringify(name)}: use letters, digits, '_', '-' and '.'`,
    );
  }
  const dir = join(root, name);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
  if (!entries) throw new ModelNotFoundError(`model "${name}" is not in the repository ${root}`);
  const versions = entries
    .filter((e) => e.isDirectory() && /^[1-9][0-9]{0,15}$/.test(e.name))
    .map((e) => e.name);
  if (versions.length === 0)
    throw new ModelNotFoundError(
      `${dir}: no version folders (expected ${dir}/<version>/model.onnx)`,
    );
  // The version a server serves: the highest.
  const version = versions.sort((a, b) => Number(b) - Number(a))[0]!;
  const modelPath = join(dir, version, MODEL_FILE);
  if (!(await exists(modelPath)))
    throw new ModelNotFoundError(`${join(dir, version)} holds no ${MODEL_FILE}`);
  const metadataPath = join(dir, version, METADATA_FILE);
  const configPath = join(dir, 'config.json');
  const config = await exists(configPath);
  return {
    kind: 'repository',
    modelPath,
    ...((await exists(metadataPath)) ? { metadataPath } : {}),
    name,
    version,
    target: (v) => {
      const sibling = join(root, `${name}-${v}`);
      return {
        modelPath: join(sibling, version, MODEL_FILE),
        metadataPath: join(sibling, version, METADATA_FILE),
        ...(config ? { config: { from: configPath, to: join(sibling, 'config.json') } } : {}),
        serveWith: `mlscale serve --model-repository ${root} (model "${name}-${v}")`,
      };
    },
  };
}
