/**
 * The model artifact format, its one owner: a folder with `model.onnx` plus `metadata.json`,
 * written so that a folder that looks complete always is (both files go to a temporary sibling
 * folder that is renamed into place); the names of its variants (`model.int8.onnx` +
 * `model.int8.metadata.json`, written by `mlscale optimize`); the metadata that goes with a lone
 * `.onnx` file (`<stem>.metadata.json`); and how metadata is read.
 *
 * @module
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ArtifactError } from '../errors.js';

/** Name of the ONNX file in an artifact folder. */
export const MODEL_FILE = 'model.onnx';
/** Name of the metadata file in an artifact folder. */
export const METADATA_FILE = 'metadata.json';
/** Version tag of the metadata format. */
export const METADATA_FORMAT = 'mlscale-model/1';

/** A variant's files in an artifact folder: `model.<variant>.onnx` and `model.<variant>.metadata.json`. */
export function variantFiles(variant: string): {
  readonly model: string;
  readonly metadata: string;
} {
  return { model: `model.${variant}.onnx`, metadata: `model.${variant}.metadata.json` };
}

/** The stem of a `.onnx` file's name: `m` for `dir/m.onnx`. */
export function onnxStem(path: string): string {
  return basename(path).replace(/\.onnx$/i, '');
}

/** The metadata that goes with a lone `.onnx` file: `dir/m.onnx` → `dir/m.metadata.json`. */
export function metadataPathOf(onnxPath: string): string {
  return join(dirname(onnxPath), `${onnxStem(onnxPath)}.metadata.json`);
}

/** A lone `.onnx` file's variant: `dir/m.onnx` → `<dir>/m.int8.onnx` + `<dir>/m.int8.metadata.json`. */
export function fileVariantPaths(
  onnxPath: string,
  variant: string,
  dir = dirname(onnxPath),
): { readonly model: string; readonly metadata: string } {
  const stem = onnxStem(onnxPath);
  return {
    model: join(dir, `${stem}.${variant}.onnx`),
    metadata: join(dir, `${stem}.${variant}.metadata.json`),
  };
}

/** The facts of a metadata file that say which model it is, in this order; what a server shows of it. */
const kIdentityKeys = [
  'format',
  'task',
  'label',
  'classes',
  'model',
  'variant',
  'createdAt',
] as const;

/**
 * Writes `model.onnx` and `metadata.json` into `out`, atomically: a crash leaves either the old
 * artifact or the new one, never a half-written folder. An existing artifact at `out` is replaced;
 * an existing folder that is not an artifact is refused.
 *
 * @returns the absolute path of the artifact folder.
 */
export async function writeArtifact(
  out: string,
  model: Uint8Array,
  metadata: object,
): Promise<string> {
  const target = resolve(out);
  const existing = await stat(target).catch(() => undefined);
  if (existing && !(existing.isDirectory() && (await isArtifact(target)))) {
    throw new ArtifactError(
      `--out ${target} exists and is not a model artifact folder; choose another path or remove it`,
    );
  }
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temp = join(parent, `.${basename(target)}.tmp-${suffix}`);
  await mkdir(temp);
  try {
    await writeFile(join(temp, MODEL_FILE), model);
    await writeFile(
      join(temp, METADATA_FILE),
      JSON.stringify({ format: METADATA_FORMAT, ...metadata }, null, 2) + '\n',
    );
    if (existing) {
      const old = join(parent, `.${basename(target)}.old-${suffix}`);
      await rename(target, old);
      await rename(temp, target);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(temp, target);
    }
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw new ArtifactError(
      `cannot write the model artifact to ${target}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return target;
}

async function isArtifact(folder: string): Promise<boolean> {
  return (await stat(join(folder, METADATA_FILE)).catch(() => undefined))?.isFile() ?? false;
}

/** Reads an artifact folder's model bytes and metadata. */
export async function readArtifact(
  folder: string,
): Promise<{ model: Uint8Array; metadata: Record<string, unknown> }> {
  const dir = resolve(folder);
  let model: Uint8Array;
  let text: string;
  try {
    model = await readFile(join(dir, MODEL_FILE));
    text = await readFile(join(dir, METADATA_FILE), 'utf8');
  } catch (err) {
    throw new ArtifactError(
      `${dir} is not a model artifact folder (needs ${MODEL_FILE} and ${METADATA_FILE})`,
      { cause: err },
    );
  }
  try {
    return { model, metadata: JSON.parse(text) as Record<string, unknown> };
  } catch (err) {
    throw new ArtifactError(
      `${join(dir, METADATA_FILE)}: invalid JSON: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * Reads a metadata file (an artifact's, a variant's or a lone `.onnx` file's).
 *
 * @returns its contents, or undefined when there is no such file (any ONNX model may come without).
 * @throws ArtifactError when the file exists but is not a JSON object.
 */
export async function readArtifactMetadata(
  path: string,
): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ArtifactError(`${path}: invalid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ArtifactError(`${path}: expected a JSON object`);
  return parsed as Record<string, unknown>;
}

/** The facts of a model's metadata that say which model it is (format, task, label, classes, ...); undefined if it has none. */
export function metadataIdentity(
  metadata: Readonly<Record<string, unknown>>,
): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const key of kIdentityKeys) {
    if (metadata[key] !== undefined) out[key] = metadata[key];
  }
  return Object.keys(out).length ? out : undefined;
}
