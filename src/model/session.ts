/**
 * onnxruntime-node sessions for training compute, and a per-thread cache of them.
 *
 * Parallelism in mlscale comes from running many batches at once (threads, processes, machines),
 * so each session is single-threaded and sequential: it does not fight the executor for cores,
 * and with one thread onnxruntime's CPU kernels reduce in a fixed order, so results are bitwise
 * reproducible.
 *
 * @module
 */
import ort from 'onnxruntime-node';

/** Options for `createSession`. */
export interface SessionOptions {
  /** Threads onnxruntime may use inside one operator. Default 1 (see the module comment). */
  readonly intraOpThreads?: number;
}

/**
 * Creates an onnxruntime session from serialized ONNX bytes.
 * @returns a promise of the session; rejects if onnxruntime cannot load the model.
 */
export async function createSession(
  bytes: Uint8Array,
  options: SessionOptions = {},
): Promise<ort.InferenceSession> {
  const intraOpThreads = options.intraOpThreads ?? 1;
  if (!Number.isInteger(intraOpThreads) || intraOpThreads < 1) {
    throw new TypeError(
      `options.intraOpThreads must be a positive integer, got ${String(intraOpThreads)}`,
    );
  }
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

// Module state is per thread: each worker thread gets its own map, which is what we want, since
// an onnxruntime session cannot cross threads.
const cache = new Map<string, Promise<ort.InferenceSession>>();

/**
 * The session cached under `key`, built (once per thread) from `build()` on first use.
 * Concurrent callers share one pending creation. A failed creation is not cached.
 * @param key Identifies the graph, e.g. `train:${JSON.stringify(spec)}`.
 * @param build Returns the model bytes; called only on a cache miss.
 */
export function getCachedSession(
  key: string,
  build: () => Uint8Array,
): Promise<ort.InferenceSession> {
  let session = cache.get(key);
  if (session === undefined) {
    session = Promise.resolve()
      .then(() => createSession(build()))
      .catch((err: unknown) => {
        cache.delete(key);
        throw err;
      });
    cache.set(key, session);
  }
  return session;
}

/** Releases every cached session of this thread (for tests and orderly shutdown). */
export async function clearSessionCache(): Promise<void> {
  const sessions = [...cache.values()];
  cache.clear();
  for (const pending of sessions) {
    try {
      await (await pending).release();
    } catch {
      // A session that failed to load has nothing to release.
    }
  }
}
