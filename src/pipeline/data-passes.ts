/**
 * A run's passes over its data. The first pass reads the source (the driver scans, the workers
 * parse) and stores each batch in the batch cache; every later pass (training epochs, validation,
 * evaluation) hands out the cached batches instead, so the text is parsed once per run.
 *
 * Without a cache (`--cache none`), or when the first pass did not cache every batch (a resumed
 * run skips it), later passes hand out again what can be handed out again — references: byte
 * ranges found by the first scan, synthetic batch ids — and otherwise read the source again.
 *
 * @module
 */
import { readOwnBytes, type CachedBatch, type CachePlacement } from '../data/cached-batch.js';
import { estimateBatchBytes, type BatchCache } from '../data/batch-cache.js';
import type { BatchOptions, DataSource, Schema } from '../data/types.js';
import { batchInputs, inputId, reusable, type BatchInput, type InputMode } from './batch-stream.js';

/** A first-pass input, with where its task stores the parsed batch. */
export interface FirstPassItem {
  readonly input: BatchInput;
  readonly cache?: CachePlacement;
  /** The batch's size estimate reserved in the cache's budget. */
  readonly estimate: number;
}

/** The passes of one run. */
export class DataPasses {
  readonly #source: DataSource;
  readonly #schema: Schema;
  readonly #options: BatchOptions;
  readonly #mode: InputMode;
  readonly #cache: BatchCache | undefined;
  /** Inputs of the first pass that can be handed out again; undefined once one cannot. */
  #again: BatchInput[] | undefined = [];
  #batches = 0;
  #firstDone = false;

  /**
   * @param cache - The run's batch cache, or undefined for `--cache none`.
   */
  constructor(
    source: DataSource,
    schema: Schema,
    options: BatchOptions,
    mode: InputMode,
    cache: BatchCache | undefined,
  ) {
    this.#source = source;
    this.#schema = schema;
    this.#options = options;
    this.#mode = mode;
    this.#cache = cache;
  }

  /** The key under which workers keep their own copies (remote executors), if any. */
  get localCacheKey(): string | undefined {
    return this.#mode.remote ? this.#cache?.key : undefined;
  }

  /** The first pass's inputs, each with where to cache its batch. */
  async *first(): AsyncGenerator<FirstPassItem> {
    const reused = this.#cache?.reused;
    if (reused !== undefined) {
      // A kept cache folder of an earlier run with the same data and settings: no text to read.
      for (let id = 0; id < reused.length; id++)
        yield { input: { cached: reused[id]!, id }, estimate: 0 };
      return;
    }
    for await (const input of batchInputs(this.#source, this.#schema, this.#options, this.#mode)) {
      if (this.#again !== undefined) {
        if (reusable(input)) this.#again.push(input);
        else this.#again = undefined;
      }
      const rows = input.ref?.span?.rows ?? input.batch?.rowCount ?? this.#options.batchRows;
      const estimate = estimateBatchBytes(this.#schema, rows);
      const cache =
        this.#cache === undefined
          ? undefined
          : await this.#cache.placement(estimate, reusable(input));
      yield cache === undefined ? { input, estimate } : { input, cache, estimate };
    }
  }

  /** Records where the first pass's task for batch `id` stored it. */
  async stored(id: number, entry: CachedBatch | undefined, estimate: number): Promise<void> {
    this.#batches = Math.max(this.#batches, id + 1);
    if (entry !== undefined) await this.#cache!.put(id, entry, estimate);
  }

  /** Ends the first pass (`batches` batches in all). */
  async firstDone(batches: number): Promise<void> {
    this.#batches = batches;
    this.#firstDone = true;
    await this.#cache?.firstPassDone(batches);
  }

  /** The inputs of a later pass, in batch-id order. */
  async *again(): AsyncGenerator<BatchInput> {
    const entries = this.#firstDone ? await this.#cache?.entries(this.#batches) : undefined;
    if (entries !== undefined) {
      for (let id = 0; id < entries.length; id++)
        yield { cached: await this.#shippable(entries[id]!), id };
      return;
    }
    if (this.#firstDone && this.#again !== undefined) {
      yield* this.#again;
      return;
    }
    // A resumed run (no first pass here), or inputs that travel with their bytes: read again,
    // keeping the references of this pass for the next ones.
    const seen: BatchInput[] | undefined = this.#firstDone ? undefined : [];
    let all = true;
    for await (const input of batchInputs(this.#source, this.#schema, this.#options, this.#mode)) {
      if (seen !== undefined) {
        if (reusable(input)) seen.push(input);
        else all = false;
      }
      yield input;
    }
    if (seen !== undefined && all) {
      this.#again = seen;
      this.#batches = seen.length > 0 ? inputId(seen.at(-1)!) + 1 : 0;
      this.#firstDone = true;
    }
  }

  /** A cache entry as a task of this run can read it: workers elsewhere do not see this disk. */
  async #shippable(entry: CachedBatch): Promise<CachedBatch> {
    if (!this.#mode.remote || entry.kind !== 'file') return entry;
    return { kind: 'bytes', bytes: await readOwnBytes(entry.path) };
  }
}
