/**
 * The task side of the batch cache: where a task stores the batch it just parsed, and how a later
 * task reads it back. What to do comes from the driver (`batch-cache.ts`) as a placement; what
 * comes back is a handle the driver keeps and hands out in later passes.
 *
 * - `memory`: the batch encoded into a `SharedArrayBuffer`; threads of this process read it in
 *   place (it crosses `postMessage` without a copy).
 * - `file`: the batch written to a file of the run's cache folder; any thread of this machine
 *   reads it (the OS keeps recently read files in memory).
 * - `bytes`: the encoded batch itself, for a driver in another process (`bullmq`), which keeps it
 *   and ships it back in later passes.
 * - `local`: a worker process's own cache (`bullmq` workers reading shared files by reference):
 *   stored under this process's folder by key and batch id, and looked up there first when the
 *   same reference comes again. Nothing goes back to the driver.
 *
 * @module
 */
import { mkdirSync, rmSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { decodeBatch, encodeBatch } from './batch-codec.js';
import type { RawBatch } from './types.js';

/** A cached batch, as the driver holds it and hands it to a task. */
export type CachedBatch =
  | { readonly kind: 'memory'; readonly buffer: SharedArrayBuffer }
  | { readonly kind: 'file'; readonly path: string; readonly bytes: number }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array };

/** Where a task stores the batch it parsed. */
export type CachePlacement =
  | { readonly store: 'memory' }
  | { readonly store: 'file'; readonly dir: string }
  | { readonly store: 'bytes' }
  | { readonly store: 'local'; readonly key: string };

/** Bytes a cached batch takes. */
export function cachedBytes(entry: CachedBatch): number {
  if (entry.kind === 'memory') return entry.buffer.byteLength;
  if (entry.kind === 'file') return entry.bytes;
  return entry.bytes.byteLength;
}

/** The file name of batch `id` in a cache folder. */
export function batchFileName(id: number): string {
  return `${String(id).padStart(8, '0')}.mlb`;
}

/** Reads a whole file into a buffer of its own (8-byte aligned, as decoding needs). */
export async function readOwnBytes(path: string): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const out = new Uint8Array(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await handle.read(out, at, size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return at === size ? out : out.subarray(0, at);
  } finally {
    await handle.close();
  }
}

/** Writes a file atomically: a reader sees all of it or none of it. */
async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(temp, bytes);
  await rename(temp, path);
}

/**
 * Stores a parsed batch as the driver asked.
 *
 * @returns The handle for the driver, or undefined for a worker-local entry.
 */
export async function storeBatch(
  batch: RawBatch,
  placement: CachePlacement,
): Promise<CachedBatch | undefined> {
  switch (placement.store) {
    case 'memory':
      return { kind: 'memory', buffer: encodeBatch(batch, true).buffer as SharedArrayBuffer };
    case 'bytes':
      return { kind: 'bytes', bytes: encodeBatch(batch, false) };
    case 'file': {
      const bytes = encodeBatch(batch, false);
      const path = join(placement.dir, batchFileName(batch.id));
      await writeAtomic(path, bytes);
      return { kind: 'file', path, bytes: bytes.byteLength };
    }
    case 'local':
      await localCache().store(placement.key, batch);
      return undefined;
  }
}

/**
 * Reads a cached batch.
 *
 * @param copy - Give the batch arrays of its own (see `decodeBatch`).
 */
export async function loadBatch(entry: CachedBatch, copy: boolean): Promise<RawBatch> {
  switch (entry.kind) {
    case 'memory':
      return decodeBatch(new Uint8Array(entry.buffer), copy, 'a cached batch');
    case 'bytes':
      return decodeBatch(entry.bytes, copy, 'a cached batch');
    case 'file':
      // A fresh buffer per read: views on it are the batch's own, so no copy is needed.
      return decodeBatch(await readOwnBytes(entry.path), false, entry.path);
  }
}

/** Keys (datasets) a worker process keeps at once; the least recently used goes first. */
export const kLocalCacheKeys = 4;

/**
 * A worker process's own cache of the batches it parsed, on local disk: `<tmp>/mlscale-cache-<pid>/<key>/`.
 * Threads of the process share it (same folder), a new key pushes out the least recently used
 * one past {@link kLocalCacheKeys}, and the folder is removed when the process exits.
 */
export class LocalBatchCache {
  readonly dir: string;
  readonly #keys = new Map<string, number>();

  /** @param dir - The process's cache folder. */
  constructor(dir: string) {
    this.dir = dir;
  }

  /** The batch stored under `key` and `id`, or undefined. */
  async load(key: string, id: number): Promise<RawBatch | undefined> {
    const path = join(this.dir, key, batchFileName(id));
    let bytes: Uint8Array;
    try {
      bytes = await readOwnBytes(path);
    } catch {
      return undefined;
    }
    this.#keys.set(key, Date.now());
    // A fresh buffer per read: views on it are the batch's own.
    return decodeBatch(bytes, false, path);
  }

  /** Stores a batch under `key`. */
  async store(key: string, batch: RawBatch): Promise<void> {
    const folder = join(this.dir, key);
    if (!this.#keys.has(key)) {
      await mkdir(folder, { recursive: true });
      await this.#evict(key);
    }
    this.#keys.set(key, Date.now());
    await writeAtomic(join(folder, batchFileName(batch.id)), encodeBatch(batch, false));
  }

  /** Removes the least recently used keys beyond the limit (other threads' keys included). */
  async #evict(keep: string): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return;
    }
    if (names.length <= kLocalCacheKeys) return;
    const used = await Promise.all(
      names.map(async (name) => ({
        name,
        at:
          name === keep
            ? Infinity
            : ((await stat(join(this.dir, name)).catch(() => undefined))?.mtimeMs ?? 0),
      })),
    );
    used.sort((a, b) => a.at - b.at);
    for (const { name } of used.slice(0, used.length - kLocalCacheKeys)) {
      this.#keys.delete(name);
      await rm(join(this.dir, name), { recursive: true, force: true });
    }
  }
}

let local: LocalBatchCache | undefined;

/**
 * This process's local cache (created on first use; removed at exit when the main thread has used
 * it — `mlscale worker` calls this at start for that reason).
 */
export function localCache(): LocalBatchCache {
  if (local === undefined) {
    const dir = join(tmpdir(), `mlscale-cache-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    local = new LocalBatchCache(dir);
    // Only the main thread: a worker thread's 'exit' is the thread's, and the folder is the process's.
    if (isMainThread) process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return local;
}
