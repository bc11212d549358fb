/**
 * Worker-thread side of the threads executor. Imports only the task loader and envelope helpers;
 * never re-exported from the package.
 *
 * @module
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import type { TaskRef } from './executor.js';
import { collectTransferables, toErrorPayload, type TaskEnvelope } from './task-envelope.js';
import { loadTask } from './task-loader.js';

/**
 * Message the main side sends: one or more calls of one task. Several small calls travel in one
 * message because a message round trip (about 45 µs here) costs more than a small task.
 */
export interface ThreadRequest {
  readonly task: TaskRef;
  readonly inputs: readonly unknown[];
}

/**
 * Runs the calls of a request in order and answers with one envelope per call. The outputs' typed
 * arrays are moved back, not copied: tasks return arrays they own (fresh ones), never views of
 * buffers they keep.
 */
export default async function runThreadTasks(request: ThreadRequest): Promise<unknown> {
  const envelopes: TaskEnvelope<unknown>[] = [];
  let fn: Awaited<ReturnType<typeof loadTask>> | undefined;
  for (const input of request.inputs) {
    try {
      fn ??= await loadTask(request.task);
      envelopes.push({ ok: true, value: await fn(input) });
    } catch (err) {
      envelopes.push({ ok: false, error: toErrorPayload(err) });
    }
  }
  const buffers = [...collectTransferables(envelopes)];
  if (buffers.length === 0) return envelopes;
  return move(new TransferEnvelope(envelopes, buffers) as never);
}

/** Piscina's transferable protocol: the value to post and the buffers to move with it. */
class TransferEnvelope {
  readonly #value: unknown;
  readonly #buffers: ArrayBuffer[];
  constructor(value: unknown, buffers: ArrayBuffer[]) {
    this.#value = value;
    this.#buffers = buffers;
  }
  get [transferableSymbol](): ArrayBuffer[] {
    return this.#buffers;
  }
  get [valueSymbol](): unknown {
    return this.#value;
  }
}
