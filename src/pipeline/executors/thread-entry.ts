/**
 * Entry of a `TaskThreads` thread (`mlscale worker`): answers each request on the parent port.
 * Imports only the thread-side task runner; never re-exported from the package.
 *
 * Requests arrive in arrays and answers leave in arrays: those ready in the same turn of this
 * thread's event loop share one message (each message wakes the main thread).
 *
 * @module
 */
import { parentPort } from 'node:worker_threads';
import runThreadTasks, { lacksSharedInput, type ThreadMessage, type ThreadReply } from './thread-worker.js';
import type { TaskEnvelope } from './task-envelope.js';

const port = parentPort!;
const outbox: ThreadReply[] = [];
const moved: ArrayBuffer[] = [];

function reply(answer: ThreadReply): void {
  if (outbox.push(answer) === 1) {
    setImmediate(() => {
      port.postMessage(outbox.splice(0), moved.splice(0));
    });
  }
}

port.on('message', (messages: ThreadMessage[]) => {
  for (const { id, request } of messages) {
    if (lacksSharedInput(request)) {
      reply({ id, ok: false, message: `shared input ${request.shared!.key} is not on this thread`, lacksShared: true });
      continue;
    }
    runThreadTasks(request).then(
      (value) => {
        // Large packed outputs are owned copies: moved, not cloned.
        if (request.packed === true) for (const e of value as TaskEnvelope<unknown>[]) if (e.ok && e.value instanceof Uint8Array) moved.push(e.value.buffer as ArrayBuffer);
        reply({ id, ok: true, value });
      },
      (err: unknown) => reply({ id, ok: false, message: err instanceof Error ? err.message : String(err) }),
    );
  }
});
