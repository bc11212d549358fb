/**
 * Task inputs for passes over a source, and helpers for walking them in windows while the next
 * window is read ahead, so reading (main thread) overlaps computing (workers) and memory stays
 * bounded by a few windows.
 *
 * @module
 */
import type { CachedBatch } from '../data/cached-batch.js';
import type { BatchOptions, BatchRef, DataSource, RawBatch, Schema } from '../data/types.js';
import type { TaskCall } from './executors/executor.js';

/**
 * What a task is handed: the batch itself, a reference the task builds it from (a synthetic batch
 * id, a file's byte range, maybe with its bytes), or the batch cache's copy of it.
 */
export type BatchInput =
  | {
      readonly batch: RawBatch;
      readonly ref?: undefined;
      readonly cached?: undefined;
      readonly id?: undefined;
    }
  | {
      readonly ref: BatchRef;
      readonly batch?: undefined;
      readonly cached?: undefined;
      readonly id?: undefined;
    }
  | {
      readonly cached: CachedBatch;
      readonly id: number;
      readonly batch?: undefined;
      readonly ref?: undefined;
    };

/** Where the tasks of a pass run, which decides how a file's batches travel. */
export interface InputMode {
  /** Tasks run in other processes, maybe on other machines (`bullmq`). */
  readonly remote: boolean;
  /** Remote: the workers cannot be assumed to see the file (`--ship-rows`, or a relative path). */
  readonly shipRows: boolean;
}

/**
 * One pass over a source as task inputs; the driver's thread parses nothing.
 *
 * - Random-access sources (synthetic) give references: the workers build the batches.
 * - Files give byte ranges found by a scan of their bytes: a worker reads and parses its own
 *   range. The range carries its bytes when the worker could not read it itself: a compressed
 *   file (no byte ranges), a file at a URL for threads of this process (the driver has just
 *   downloaded those bytes; a second download per range would be waste), and, for workers in
 *   other processes, a file they are not known to see (shipped in the job, parsed there).
 * - Other sources are read here and their buffers moved to the workers.
 */
export async function* batchInputs(
  source: DataSource,
  schema: Schema,
  options: BatchOptions,
  mode: InputMode = { remote: false, shipRows: false },
): AsyncGenerator<BatchInput> {
  if (source.randomAccess) {
    const count = source.randomAccess.batchCount(options);
    for (let id = 0; id < count; id++) yield { ref: { source: source.description, id, options } };
    return;
  }
  const ranges = source.byteRanges;
  if (ranges) {
    const withBytes = mode.remote
      ? mode.shipRows || !ranges.shared || !ranges.ranged
      : !ranges.local || !ranges.ranged;
    for await (const span of ranges.spans(schema, options, withBytes))
      yield { ref: { source: ranges.reference, id: span.id, options, span } };
    return;
  }
  for await (const batch of source.batches(schema, options)) yield { batch };
}

/** The id of the batch an input names. */
export function inputId(input: BatchInput): number {
  if (input.cached !== undefined) return input.id;
  return input.batch?.id ?? input.ref!.id;
}

/** True when another pass can hand out the same input again (a reference without bytes). */
export function reusable(input: BatchInput): boolean {
  return input.ref !== undefined && input.ref.span?.bytes === undefined;
}

/**
 * Batches per map call of a pass without a synchronisation point (fit, evaluation): many per
 * worker, so that one slow batch does not idle the other workers at every window's end.
 */
export function passWindow(concurrency: number): number {
  return Math.max(8, concurrency * 8);
}

/** Yields arrays of up to `size` items, reading the next window while the caller works on this one. */
export async function* windows<T>(source: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  const it = source[Symbol.asyncIterator]();
  const readWindow = async (): Promise<T[]> => {
    const out: T[] = [];
    while (out.length < size) {
      const r = await it.next();
      if (r.done) break;
      out.push(r.value);
    }
    return out;
  };
  try {
    let next = readWindow();
    for (;;) {
      const current = await next;
      if (current.length === 0) return;
      next = readWindow();
      // If the caller stops early, the read-ahead's rejection must not go unhandled.
      next.catch(() => undefined);
      yield current;
    }
  } finally {
    await it.return?.();
  }
}

/** The buffers of a batch's typed arrays: they move to the worker instead of being copied. */
export function batchBuffers(batch: RawBatch): ArrayBuffer[] {
  const arrays: ArrayBufferView[] = [batch.rowIndex, batch.numeric, batch.catCodes];
  arrays.push(batch.labels.kind === 'numeric' ? batch.labels.values : batch.labels.codes);
  const buffers = new Set<ArrayBuffer>();
  for (const a of arrays)
    if (a.buffer instanceof ArrayBuffer && a.buffer.byteLength > 0) buffers.add(a.buffer);
  return [...buffers];
}

/** A call that moves its batch, or its range's bytes, to the worker (buffers of its own only). */
export function batchCall<I extends BatchInput>(input: I): TaskCall<I> {
  if (input.batch) return { input, id: input.batch.id, transfer: batchBuffers(input.batch) };
  const bytes = input.ref?.span?.bytes;
  if (bytes !== undefined && bytes.buffer instanceof ArrayBuffer)
    return { input, id: inputId(input), transfer: [bytes.buffer] };
  return { input, id: inputId(input) };
}
