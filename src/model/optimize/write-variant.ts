/**
 * Writes a variant's model and metadata files, each atomically (a temporary file in the same
 * folder renamed over the target), so a reader or a server watching the folder never sees half
 * a file.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ArtifactError } from '../../errors.js';
import type { VariantTarget } from './model-location.js';

async function atomicWrite(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(
    dirname(path),
    `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Writes the variant. The metadata goes first: a server that sees the new model file then
 * finds its metadata already in place.
 * @throws ArtifactError naming the path when a file cannot be written.
 */
export async function writeVariant(
  target: VariantTarget,
  model: Uint8Array,
  metadata: object,
): Promise<void> {
  try {
    await mkdir(dirname(target.modelPath), { recursive: true });
    await atomicWrite(target.metadataPath, JSON.stringify(metadata, null, 2) + '\n');
    await atomicWrite(target.modelPath, model);
    // A config.json the user already put beside the variant is theirs: it is not replaced.
    if (target.config && !(await stat(target.config.to).catch(() => undefined)))
      await copyFile(target.config.from, target.config.to);
  } catch (err) {
    throw new ArtifactError(
      `cannot write the variant ${target.modelPath}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
