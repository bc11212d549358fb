/**
 * Helpers for the data source tests: temporary data files and draining sources.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MlscaleError } from '../../src/errors.js';
import type { BatchOptions, DataSource, RawBatch, Schema } from '../../src/data/types.js';

/** Temporary files that a test writes; `cleanup()` removes them all. */
export class TempFiles {
  readonly #paths: string[] = [];

  /** A unique path under the OS temp folder (not created). */
  path(extension: string): string {
    const path = join(tmpdir(), `mlscale-data-${process.pid}-${randomUUID()}${extension}`);
    this.#paths.push(path);
    return path;
  }

  /** Writes `text` to a unique temporary file and returns its path. */
  async write(extension: string, text: string): Promise<string> {
    const path = this.path(extension);
    await writeFile(path, text);
    return path;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.#paths.splice(0).map((p) => rm(p, { recursive: true, force: true })));
  }
}

/** Reads every batch of a source. */
export async function collect(
  source: DataSource,
  schema: Schema,
  options: Partial<BatchOptions> = {},
): Promise<RawBatch[]> {
  const batches: RawBatch[] = [];
  for await (const batch of source.batches(schema, {
    batchRows: 1000,
    onBadRow: 'error',
    ...options,
  })) {
    batches.push(batch);
  }
  return batches;
}

/** Class names of a batch's rows. */
export function classNames(batch: RawBatch): string[] {
  assert.equal(batch.labels.kind, 'categorical');
  const { codes, dict } = batch.labels as { codes: Int32Array; dict: string[] };
  return [...codes].map((c) => dict[c]!);
}

/** Categorical values of a batch, row by row (undefined = missing). */
export function categories(batch: RawBatch, width: number): (string | undefined)[][] {
  return Array.from({ length: batch.rowCount }, (_, r) =>
    [...batch.catCodes.subarray(r * width, (r + 1) * width)].map((c) =>
      c < 0 ? undefined : batch.catDict[c],
    ),
  );
}

/**
 * Asserts that `promise` rejects with an instance of `errorClass` whose code is `code` and whose
 * message contains every one of `fragments`; returns the error.
 */
export async function rejectsWith(
  promise: Promise<unknown>,
  errorClass: abstract new (...args: never[]) => MlscaleError,
  code: string,
  fragments: readonly string[] = [],
): Promise<MlscaleError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof errorClass, `expected ${errorClass.name}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  for (const fragment of fragments) {
    assert.ok(
      caught.message.includes(fragment),
      `message ${JSON.stringify(caught.message)} lacks ${JSON.stringify(fragment)}`,
    );
  }
  return caught;
}
