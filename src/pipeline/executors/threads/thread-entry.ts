/**
 * Entry of a `TaskThreads` thread (`mlscale worker`): answers each request on the parent port.
 * Imports only the thread-side task runner; never re-exported from the package.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import runThreadTasks, {
  lacksSharedInput,
  type ThreadReply,
  type ThreadRequest,
} from './thread-worker.js';
import type { TaskEnvelope } from '../task-envelope.js';

const port = parentPort!;
port.on('message', ({ id, request }: { id: number; request: ThreadRequest }) => {
  if (lacksSharedInput(request)) {
    port.postMessage({
      id,
      ok: false,
      message: `shared input ${request.shared!.key} is not on this thread`,
      lacksShared: true,
    } satisfies ThreadReply);
    return;
  }
  const started = performance.now();
  runThreadTasks(request).then(
    (value) => {
      // Large packed outputs are owned copies: moved, not cloned.
      const moved =
        request.packed !== true
          ? []
          : (value as TaskEnvelope<unknown>[]).flatMap((e) =>
              e.ok && e.value instanceof Uint8Array ? [e.value.buffer as ArrayBuffer] : [],
            );
      port.postMessage(
        { id, ok: true, value, ms: performance.now() - started } satisfies ThreadReply,
        moved,
      );
    },
    (err: unknown) =>
      port.postMessage({
        id,
        ok: false,
        message: err instanceof Error ? err.message : String(err),
      } satisfies ThreadReply),
  );
});
