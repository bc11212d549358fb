/**
 * A fixed set of worker threads for `mlscale worker`: each request goes to the thread with the
 * fewest in flight, over the thread's own MessagePort.
 *
 * Why not Piscina, which the `threads` executor uses: a worker process sends every job on its own
 * trip to a thread, and Piscina's scheduling and wake-up machinery around each trip cost 110 µs of
 * CPU against 41-72 µs for a bare MessagePort round trip (2 threads, 16 in flight, a no-op task, on
 * this 2-core machine) — a third of a no-op job's whole cost in the worker. What Piscina gives
 * beyond that (queues, abort, histograms, idle shrinking) a fixed set of threads does not need.
 *
 * @module
 */
import { Worker } from 'node:worker_threads';
import { kSharedKept, type ThreadReply, type ThreadRequest } from './thread-worker.js';

interface Pending {
  readonly request: ThreadRequest;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  readonly pending: Map<number, Pending>;
  /** Keys of the shared inputs sent to this thread, the newest last (the thread keeps as many). */
  readonly shared: Set<string>;
}

/** Worker threads running `ThreadRequest`s. */
export class TaskThreads {
  readonly #entry: URL;
  readonly #slots: Slot[] = [];
  #next = 0;
  #destroyed = false;

  /**
   * @param size - Number of threads.
   * @param entry - The thread's module (`thread-entry.js`).
   */
  constructor(size: number, entry: URL) {
    this.#entry = entry;
    for (let i = 0; i < size; i++) this.#slots.push(this.#spawn({ pending: new Map(), shared: new Set() } as unknown as Slot));
  }

  /** Starts (or restarts) the thread of a slot. */
  #spawn(slot: Slot): Slot {
    const worker = new Worker(this.#entry);
    slot.worker = worker;
    slot.shared.clear();
    worker.on('message', ({ id, ok, value, message, lacksShared }: ThreadReply) => {
      const pending = slot.pending.get(id);
      if (!pending) return;
      slot.pending.delete(id);
      if (ok) pending.resolve(value);
      else if (lacksShared === true) {
        // The thread let the shared input go: send the request again, bytes included.
        slot.shared.delete(pending.request.shared!.key);
        slot.pending.set(id, pending);
        this.#post(slot, id, pending);
      } else pending.reject(new Error(message));
    });
    // An error that escaped the task's envelope (an uncaught exception, out of memory) ends the
    // thread: its requests fail, and a fresh thread takes its place.
    let failure: Error | undefined;
    worker.on('error', (err) => (failure = err));
    worker.on('exit', (code) => {
      const reason = failure ?? new Error(`the thread exited with code ${code}`);
      for (const pending of slot.pending.values()) pending.reject(reason);
      slot.pending.clear();
      if (!this.#destroyed) this.#spawn(slot);
    });
    return slot;
  }

  /** Runs a request on the least busy thread; resolves with its envelopes. */
  run(request: ThreadRequest): Promise<unknown> {
    if (this.#destroyed) return Promise.reject(new Error('the worker threads are stopped'));
    let slot = this.#slots[this.#next++ % this.#slots.length]!;
    for (const s of this.#slots) if (s.pending.size < slot.pending.size) slot = s;
    const id = this.#next;
    return new Promise((resolve, reject) => {
      const pending = { request, resolve, reject };
      slot.pending.set(id, pending);
      this.#post(slot, id, pending);
    });
  }

  /** Posts a request, without the shared input's bytes when the thread has them already. */
  #post(slot: Slot, id: number, { request }: Pending): void {
    const shared = request.shared;
    if (shared?.bytes !== undefined && slot.shared.has(shared.key)) {
      slot.worker.postMessage({ id, request: { ...request, shared: { key: shared.key } } });
      return;
    }
    if (shared?.bytes !== undefined) {
      slot.shared.add(shared.key);
      if (slot.shared.size > kSharedKept) slot.shared.delete(slot.shared.values().next().value!);
    }
    slot.worker.postMessage({ id, request });
  }

  /** Stops every thread; requests in flight fail. */
  async destroy(): Promise<void> {
    this.#destroyed = true;
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }
}
