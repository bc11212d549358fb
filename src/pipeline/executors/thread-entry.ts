/**
 * Entry of a `TaskThreads` thread (`mlscale worker`): answers each request on the parent port.
 * Imports only the thread-side task runner; never re-exported from the package.
 *
 * @module
 */
import { parentPort } from 'node:worker_threads';
import runThreadTasks, { type ThreadReply, type ThreadRequest } from './thread-worker.js';

const port = parentPort!;
port.on('message', ({ id, request }: { id: number; request: ThreadRequest }) => {
  runThreadTasks(request).then(
    (value) => port.postMessage({ id, ok: true, value } satisfies ThreadReply),
    (err: unknown) => port.postMessage({ id, ok: false, message: err instanceof Error ? err.message : String(err) } satisfies ThreadReply),
  );
});
