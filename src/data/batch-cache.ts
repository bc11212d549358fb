/**
 * The batch cache, driver side: which batches are cached where, within a memory budget.
 *
 * Parsing text costs more than the gradient steps it feeds (the anchor is Vowpal Wabbit's cache
 * file, built on the first pass for the same reason), so the first pass over the data stores each
 * batch parsed, in the binary form of `batch-codec.ts`, and later passes (epochs, evaluation)
 * read that instead of the text. Batches go to shared memory while they fit `memoryBytes`, then
 * to files in the cache folder; a worker writes its batch itself, so the driver never holds the
 * bytes of a batch on disk.
 *
 * The cache is keyed by the data's identity (file, size, modification time or ETag) and every
 * setting that changes what a batch holds (schema, missing-value tokens, batch size, bad-row
 * policy). With a folder the user named, it is kept, and a later run with the same key reads it
 * instead of the text from its first pass on; the default folder (under the OS's temporary
 * folder) is removed when the run ends.
 *
 * With workers in other processes (`bullmq`), batches read by reference (a shared file's byte
 * range, a synthetic batch id) are cached by each worker process on its own disk (`local`
 * placement): the driver keeps sending references and a worker that parsed a batch before reads
 * its copy. Batches shipped to the workers come back encoded and are kept by the driver.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  batchFileName,
  cachedBytes,
  type CachedBatch,
  type CachePlacement,
} from './cached-batch.js';
import type { BatchOptions, DataSource, Schema } from './types.js';

/** Version of the cache's folder layout and batch format, part of every key. */
const kCacheFormat = 1;
/** The file that marks a kept cache folder as complete. */
const kCompleteFile = 'complete.json';

/** What the cache is told, filled. */
export interface BatchCacheOptions {
  /** `auto`: memory within the budget, then disk; `disk`: files only. */
  readonly mode: 'auto' | 'disk';
  /** Memory budget for cached batches, in bytes. */
  readonly memoryBytes: number;
  /** A folder the user named: batches go there, and stay for later runs. */
  readonly dir?: string;
  /** Tasks run in other processes (maybe machines): no shared memory, no shared folder. */
  readonly remote: boolean;
}

/** The key of a dataset's cached batches: its identity and every setting that shapes a batch. */
export async function cacheKey(
  source: DataSource,
  schema: Schema,
  options: BatchOptions,
): Promise<string> {
  const identity = (await source.identity?.()) ?? source.description;
  const settings = {
    format: kCacheFormat,
    identity,
    schema,
    batchRows: options.batchRows,
    onBadRow: options.onBadRow,
  };
  return createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 32);
}

/** Bytes a batch of `rows` rows takes in the cache, about (dictionaries aside, hence the margin). */
export function estimateBatchBytes(schema: Schema, rows: number): number {
  return 64 * 1024 + rows * (8 + 4 * schema.numeric.length + 4 * schema.categorical.length + 4);
}

/** The driver's index of cached batches. */
export class BatchCache {
  readonly key: string;
  readonly #options: BatchCacheOptions;
  readonly #dir: string;
  readonly #kept: boolean;
  readonly #entries: (CachedBatch | undefined)[] = [];
  #memoryUsed = 0;
  #memoryReserved = 0;
  #folderMade: Promise<unknown> | undefined;
  #reused: CachedBatch[] | undefined;

  private constructor(key: string, options: BatchCacheOptions) {
    this.key = key;
    this.#options = options;
    this.#kept = options.dir !== undefined;
    this.#dir =
      options.dir !== undefined
        ? join(options.dir, key)
        : join(tmpdir(), `mlscale-run-${process.pid}-${Date.now().toString(36)}`, key);
  }

  /**
   * A cache for one run's batches; with a kept folder that holds this key complete, its batches
   * are ready to read (see {@link reused}).
   */
  static async open(
    source: DataSource,
    schema: Schema,
    batchOptions: BatchOptions,
    options: BatchCacheOptions,
  ): Promise<BatchCache> {
    const cache = new BatchCache(await cacheKey(source, schema, batchOptions), options);
    if (cache.#kept && !options.remote) cache.#reused = await cache.#readComplete();
    return cache;
  }

  /** The folder batches are written to. */
  get dir(): string {
    return this.#dir;
  }

  /** The batches of a kept folder from an earlier run with the same key, in id order. */
  get reused(): readonly CachedBatch[] | undefined {
    return this.#reused;
  }

  /**
   * Where the task that parses the next batch stores it.
   *
   * @param estimate - The batch's size, about (see {@link estimateBatchBytes}); reserved against
   *   the memory budget until {@link put} gives the real one.
   * @param byReference - The task builds the batch from a reference another process could follow
   *   again (remote executors cache such batches where they run).
   */
  async placement(estimate: number, byReference: boolean): Promise<CachePlacement> {
    if (this.#options.remote)
      return byReference ? { store: 'local', key: this.key } : { store: 'bytes' };
    if (
      this.#options.mode === 'auto' &&
      !this.#kept &&
      this.#memoryUsed + this.#memoryReserved + estimate <= this.#options.memoryBytes
    ) {
      this.#memoryReserved += estimate;
      return { store: 'memory' };
    }
    this.#folderMade ??= mkdir(this.#dir, { recursive: true });
    await this.#folderMade;
    return { store: 'file', dir: this.#dir };
  }

  /**
   * Records where batch `id` went. A memory entry that passes the budget (its estimate was low)
   * is written to a file instead, so the budget holds.
   *
   * @param estimate - What {@link placement} reserved for it.
   */
  async put(id: number, entry: CachedBatch, estimate: number): Promise<void> {
    if (entry.kind === 'memory') {
      this.#memoryReserved -= estimate;
      const size = cachedBytes(entry);
      if (this.#memoryUsed + size > this.#options.memoryBytes) {
        this.#folderMade ??= mkdir(this.#dir, { recursive: true });
        await this.#folderMade;
        const path = join(this.#dir, batchFileName(id));
        await writeFile(path, new Uint8Array(entry.buffer));
        entry = { kind: 'file', path, bytes: size };
      } else {
        this.#memoryUsed += size;
      }
    } else if (entry.kind === 'bytes') {
      // Kept for a remote driver: its bytes count against the budget too, and spill the same way.
      const size = entry.bytes.byteLength;
      if (this.#memoryUsed + size > this.#options.memoryBytes || this.#options.mode === 'disk') {
        this.#folderMade ??= mkdir(this.#dir, { recursive: true });
        await this.#folderMade;
        const path = join(this.#dir, batchFileName(id));
        await writeFile(path, entry.bytes);
        entry = { kind: 'file', path, bytes: size };
      } else {
        this.#memoryUsed += size;
      }
    }
    this.#entries[id] = entry;
  }

  /** Bytes of cached batches held in memory. */
  get memoryUsed(): number {
    return this.#memoryUsed;
  }

  /** Bytes of every cached batch, in memory or on disk. */
  get totalBytes(): number {
    return this.#entries.reduce((n, e) => n + (e === undefined ? 0 : cachedBytes(e)), 0);
  }

  /**
   * The cached batches in id order, when the first pass stored all `batches` of them; undefined
   * when some are missing (they are then read from the source again). A file that a remote driver
   * spilled is shipped as bytes: the workers do not share this machine's disk.
   */
  async entries(batches: number): Promise<CachedBatch[] | undefined> {
    if (this.#reused) return this.#reused;
    const out: CachedBatch[] = [];
    for (let id = 0; id < batches; id++) {
      const entry = this.#entries[id];
      if (entry === undefined) return undefined;
      out.push(entry);
    }
    return out;
  }

  /** Ends the first pass: a kept folder is marked complete, for later runs. */
  async firstPassDone(batches: number): Promise<void> {
    if (!this.#kept || this.#reused || this.#options.remote) return;
    const files = (await this.entries(batches))?.map((e) =>
      e.kind === 'file' ? { name: e.path.slice(this.#dir.length + 1), bytes: e.bytes } : undefined,
    );
    if (files === undefined || files.some((f) => f === undefined)) return;
    await writeFile(
      join(this.#dir, kCompleteFile),
      JSON.stringify({ format: kCacheFormat, batches, files }) + '\n',
    );
  }

  /** Releases the batches; removes the folder unless the user named it. */
  async close(): Promise<void> {
    this.#entries.length = 0;
    this.#memoryUsed = 0;
    if (!this.#kept) await rm(join(this.#dir, '..'), { recursive: true, force: true });
  }

  async #readComplete(): Promise<CachedBatch[] | undefined> {
    try {
      const marker = JSON.parse(await readFile(join(this.#dir, kCompleteFile), 'utf8')) as {
        format: number;
        files: { name: string; bytes: number }[];
      };
      if (marker.format !== kCacheFormat) return undefined;
      return marker.files.map((f) => ({
        kind: 'file',
        path: join(this.#dir, f.name),
        bytes: f.bytes,
      }));
    } catch {
      return undefined;
    }
  }
}
