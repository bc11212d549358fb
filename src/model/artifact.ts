/**
 * Model artifact folders: `model.onnx` plus `metadata.json`, written so that a folder that looks
 * complete always is — both files go to a temporary sibling folder that is renamed into place.
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

/**
 * Writes `model.onnx` and `metadata.json` into `out`, atomically: a crash leaves either the old
 * artifact or the new one, never a half-written folder. An existing artifact at `out` is replaced;
 * an existing folder that is not an artifact is refused.
 *
 * @returns the absolute path of the artifact folder.
 */
export async function writeArtifact(out: string, model: Uint8Array, metadata: object): Promise<string> {
  const target = resolve(out);
  const existing = await stat(target).catch(() => undefined);
  if (existing && !(existing.isDirectory() && (await isArtifact(target)))) {
    throw new ArtifactError(`--out ${target} exists and is not a model artifact folder; choose another path or remove it`);
  }
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temp = join(parent, `.${basename(target)}.tmp-${suffix}`);
  await mkdir(temp);
  try {
    await writeFile(join(temp, MODEL_FILE), model);
    await writeFile(join(temp, METADATA_FILE), JSON.stringify({ format: METADATA_FORMAT, ...metadata }, null, 2) + '\n');
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
    throw new ArtifactError(`cannot write the model artifact to ${target}: ${(err as Error).message}`, { cause: err });
  }
  return target;
}

async function isArtifact(folder: string): Promise<boolean> {
  return (await stat(join(folder, METADATA_FILE)).catch(() => undefined))?.isFile() ?? false;
}

/** Reads an artifact folder's model bytes and metadata. */
export async function readArtifact(folder: string): Promise<{ model: Uint8Array; metadata: Record<string, unknown> }> {
  const dir = resolve(folder);
  let model: Uint8Array;
  let text: string;
  try {
    model = await readFile(join(dir, MODEL_FILE));
    text = await readFile(join(dir, METADATA_FILE), 'utf8');
  } catch (err) {
    throw new ArtifactError(`${dir} is not a model artifact folder (needs ${MODEL_FILE} and ${METADATA_FILE})`, { cause: err });
  }
  try {
    return { model, metadata: JSON.parse(text) as Record<string, unknown> };
  } catch (err) {
    throw new ArtifactError(`${join(dir, METADATA_FILE)}: invalid JSON: ${(err as Error).message}`, { cause: err });
  }
}
