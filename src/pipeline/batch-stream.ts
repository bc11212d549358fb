/**
 * Helpers for walking a stream of batches in windows while the next window is read ahead,
 * so reading (main thread) overlaps computing (workers) and memory stays bounded by a few windows.
 *
 * @module
 */
import type { BatchOptions, BatchRef, DataSource, RawBatch, Schema } from '../data/types.js';
import type { TaskCall } from './executors/executor.js';

/** What a task is handed: the batch itself, or a reference the task builds it from. */
export type BatchInput = { readonly batch: RawBatch; readonly ref?: undefined } | { readonly ref: BatchRef; readonly batch?: undefined };

/**
 * One pass over a source as task inputs. Random-access sources give references, so the batches
 * are built by the workers, in parallel, and the driver's thread only hands out ids. With
 * `byteRanges` (a distributed run on a file every worker sees), a file source gives references
 * too: the driver parses the file only to find each batch's byte range, and each worker reads and
 * parses its own range. Others are read here and their buffers moved to the workers.
 */
export async function* batchInputs(source: DataSource, schema: Schema, options: BatchOptions, byteRanges = false): AsyncGenerator<BatchInput> {
  if (source.randomAccess) {
    const count = source.randomAccess.batchCount(options);
    for (let id = 0; id < count; id++) yield { ref: { source: source.description, id, options } };
    return;
  }
  const ranges = source.byteRanges;
  if (byteRanges && ranges) {
    for await (const span of ranges.spans(schema, options)) yield { ref: { source: ranges.reference, id: span.id, options, span } };
    return;
  }
  for await (const batch of source.batches(schema, options)) yield { batch };
}

/**
 * `batchInputs` for the passes of one run: with byte ranges, the first pass that reads the whole
 * file keeps the ranges it found (a few numbers a batch), and later passes (epochs, evaluation)
 * hand them out again without parsing the file on the driver a second time.
 */
export function runInputs(source: DataSource, schema: Schema, options: BatchOptions, byteRanges: boolean): () => AsyncGenerator<BatchInput> {
  let found: BatchInput[] | undefined;
  return async function* () {
    if (found) return yield* found;
    if (!byteRanges || !source.byteRanges) return yield* batchInputs(source, schema, options, byteRanges);
    const seen: BatchInput[] = [];
    for await (const input of batchInputs(source, schema, options, true)) {
      seen.push(input);
      yield input;
    }
    found = seen;
  };
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
  for (const a of arrays) if (a.buffer instanceof ArrayBuffer && a.buffer.byteLength > 0) buffers.add(a.buffer);
  return [...buffers];
}

/** A call that moves its batch (if it carries one rather than a reference) to the worker. */
export function batchCall<I extends BatchInput>(input: I): TaskCall<I> {
  if (input.batch) return { input, id: input.batch.id, transfer: batchBuffers(input.batch) };
  return { input, id: input.ref!.id };
}
