/**
 * Worker-thread side of the threads executor and of `mlscale worker`. Imports only the task loader,
 * the envelope helpers and the payload codec; never re-exported from the package.
 *
 * @module
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { decodePayload, encodePayload, kInlinePayloadBytes } from '../bullmq/protocol.js';
import type { TaskRef } from '../executor.js';
import { collectTransferables, toErrorPayload, type TaskEnvelope } from '../task-envelope.js';
import { loadTask } from '../task-loader.js';

/**
 * Message the main side sends: one or more calls of one task. Several small calls travel in one
 * message because a message round trip (about 45 µs here) costs more than a small task.
 */
export interface ThreadRequest {
  readonly task: TaskRef;
  /**
   * The calls' inputs. With `packed`, each is msgpack: base64 text when it is small (as it came in
   * the job: a string crosses the thread boundary as it is, while a small Buffer is a view of
   * Node's 8 KB pool slab, and structured clone copies the whole slab), or an owned Uint8Array.
   */
  readonly inputs: readonly unknown[];
  /**
   * The inputs are msgpack (a `mlscale worker`'s job payloads), and the outputs go back packed
   * too: the codec runs on this thread instead of the process's main thread, which also runs
   * BullMQ, and a few bytes cross the thread boundary instead of an object tree. An output of at
   * most `kInlinePayloadBytes` comes back as base64 text, ready for the job's return value;
   * a larger one as an owned Uint8Array, moved.
   */
  readonly packed?: boolean;
  /**
   * With `packed`: the round's shared input (msgpack), merged under each input. `key` names the
   * round: a thread unpacks it once and keeps the last few. `bytes` is left out when this thread
   * was sent them already (`TaskThreads` keeps track): a round's weights cross once per thread,
   * not once per batch.
   */
  readonly shared?: { readonly key: string; readonly bytes?: Uint8Array };
}

/** Shared inputs unpacked on this thread, by round, the newest last. */
const sharedInputs = new Map<string, Record<string, unknown>>();
/** Rounds whose shared input a thread keeps (`TaskThreads` assumes the same number). */
export const kSharedKept = 4;

function sharedInput({ key, bytes }: { key: string; bytes?: Uint8Array }): Record<string, unknown> {
  let value = sharedInputs.get(key);
  if (value === undefined) {
    if (bytes === undefined) throw new Error(`shared input ${key} is not on this thread`);
    value = decodePayload<Record<string, unknown>>(bytes);
    sharedInputs.set(key, value);
    if (sharedInputs.size > kSharedKept) sharedInputs.delete(sharedInputs.keys().next().value!);
  }
  return value;
}

/**
 * Called as a request arrives, in message order: unpacks a shared input that came with its bytes
 * (so that the next requests, sent without them, find it even while this one waits for its task
 * module), and tells whether the request names one this thread does not hold (it let it go, or
 * it is a fresh thread in place of one that died): the main side then sends it again with the bytes.
 */
export function lacksSharedInput(request: ThreadRequest): boolean {
  if (request.shared === undefined) return false;
  if (request.shared.bytes === undefined) return !sharedInputs.has(request.shared.key);
  try {
    sharedInput(request.shared);
  } catch {
    // Bad bytes: each call of the request reports the error in its envelope.
  }
  return false;
}

/** A `TaskThreads` thread's answer to one request; `ms`: how long the thread spent running it. */
export type ThreadReply =
  | {
      readonly id: number;
      readonly ok: true;
      readonly value: unknown;
      readonly ms: number;
      readonly message?: undefined;
      readonly lacksShared?: undefined;
    }
  | {
      readonly id: number;
      readonly ok: false;
      readonly message: string;
      readonly value?: undefined;
      readonly lacksShared?: boolean;
      readonly ms?: undefined;
    };

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
        const ownInput = decodePayload<Record<string, unknown>>(
          typeof input === 'string' ? Buffer.from(input, 'base64') : (input as Uint8Array),
        );
        const output = await fn(
          request.shared === undefined ? ownInput : { ...sharedInput(request.shared), ...ownInput },
        );
        const bytes = encodePayload(output);
        // Small: base64 here, off the main thread. Large: an owned copy (the codec's output is a
        // view of its reusable buffer), moved back by the thread entry.
        envelopes.push({
          ok: true,
          value:
            bytes.length <= kInlinePayloadBytes ? bytes.toString('base64') : new Uint8Array(bytes),
        });
      } else {
        envelopes.push({ ok: true, value: await fn(input) });
      }
    } catch (err) {
      envelopes.push({ ok: false, error: toErrorPayload(err) });
    }
  }
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
