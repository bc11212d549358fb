/**
 * Worker-thread side of the threads executor and of `mlscale worker`. Imports only the task loader,
 * the envelope helpers and the payload codec; never re-exported from the package.
 *
 * @module
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { decodePayload, encodePayload } from './bullmq-protocol.js';
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
  /**
   * The inputs are msgpack bytes (a `mlscale worker`'s job payloads), and the outputs go back
   * packed too: the codec runs on this thread instead of the process's main thread, which also
   * runs BullMQ, and a few bytes cross the thread boundary instead of an object tree.
   */
  readonly packed?: boolean;
  /**
   * With `packed`: the round's shared input (msgpack), merged under each input. `key` names the
   * round: a thread unpacks it once and keeps the last few.
   */
  readonly shared?: { readonly key: string; readonly bytes: Uint8Array };
}

/** Shared inputs unpacked on this thread, by round, the newest last. */
const sharedInputs = new Map<string, Record<string, unknown>>();
const kSharedKept = 4;

function sharedInput({ key, bytes }: { key: string; bytes: Uint8Array }): Record<string, unknown> {
  let value = sharedInputs.get(key);
  if (value === undefined) {
    value = decodePayload<Record<string, unknown>>(bytes);
    sharedInputs.set(key, value);
    if (sharedInputs.size > kSharedKept) sharedInputs.delete(sharedInputs.keys().next().value!);
  }
  return value;
}

/** A `TaskThreads` thread's answer to one request. */
export type ThreadReply = { readonly id: number; readonly ok: true; readonly value: unknown; readonly message?: undefined } | { readonly id: number; readonly ok: false; readonly message: string; readonly value?: undefined };

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
      if (request.packed === true) {
        const ownInput = decodePayload<Record<string, unknown>>(input as Uint8Array);
        const output = await fn(request.shared === undefined ? ownInput : { ...sharedInput(request.shared), ...ownInput });
        envelopes.push({ ok: true, value: encodePayload(output) });
      } else {
        envelopes.push({ ok: true, value: await fn(input) });
      }
    } catch (err) {
      envelopes.push({ ok: false, error: toErrorPayload(err) });
    }
  }
  // Packed outputs may be views of the codec's reusable buffer: they are copied, never moved.
  if (request.packed === true) return envelopes;
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
