/**
 * How a task's outcome crosses a thread or process boundary with its error code intact.
 *
 * Structured clone keeps an Error's message but drops its class and `code`, so worker-side code
 * wraps every outcome in an envelope and the main side rebuilds the coded error.
 *
 * @module
 */
import { errorClasses, MlscaleError, TaskFailedError } from '../../errors.js';

/** A serialisable task failure. */
export interface TaskErrorPayload {
  readonly code?: string;
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

/** What a worker sends back. */
export type TaskEnvelope<O> =
  | { readonly ok: true; readonly value: O }
  | { readonly ok: false; readonly error: TaskErrorPayload };

/** Turns any thrown value into a payload that survives structured clone. */
export function toErrorPayload(err: unknown): TaskErrorPayload {
  if (err instanceof Error) {
    const code = err instanceof MlscaleError ? err.code : undefined;
    return { code, name: err.name, message: err.message, stack: err.stack };
  }
  return { name: 'Error', message: String(err) };
}

/**
 * Rebuilds a coded error from a payload. Errors that were MlscaleErrors come back as the same class;
 * anything else becomes a `TaskFailedError` naming the batch.
 */
export function fromErrorPayload(payload: TaskErrorPayload, batchId: number): MlscaleError {
  const Cls = errorClasses.find((c) => c.name === payload.name);
  if (Cls && Cls !== TaskFailedError) {
    const err = new (Cls as new (m: string) => MlscaleError)(payload.message);
    if (payload.stack) err.stack = payload.stack;
    return err;
  }
  const cause = Object.assign(new Error(payload.message), {
    name: payload.name,
    stack: payload.stack,
  });
  return new TaskFailedError(`batch ${batchId}: ${payload.name}: ${payload.message}`, batchId, {
    cause,
  });
}

/** Collects the distinct ArrayBuffers behind the typed arrays of a task's output, for transfer. */
export function collectTransferables(
  value: unknown,
  out = new Set<ArrayBuffer>(),
  depth = 0,
): Set<ArrayBuffer> {
  if (depth > 5 || value === null || typeof value !== 'object') return out;
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) out.add(value.buffer);
    return out;
  }
  if (value instanceof ArrayBuffer) {
    out.add(value);
    return out;
  }
  const items = Array.isArray(value) ? value : Object.values(value);
  for (const item of items) collectTransferables(item, out, depth + 1);
  return out;
}
