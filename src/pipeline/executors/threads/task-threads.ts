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
 * Trivial stages run on the calling thread. A trip to a thread and back costs 40-70 µs of CPU and
 * two wake-ups; for a stage that runs in microseconds that is most of a job's cost in the worker
 * (BENCHMARKS.md, "distributed"). Threads exist so that a CPU-heavy stage cannot stop the process
 * from renewing its jobs' locks; a stage that has run `kFastStreak` requests in a row on a thread,
 * each in under `kFastMs`, is not one, and from then on runs here. One run here that takes over
 * `kSlowInlineMs` sends the stage back to the threads for good, so a stage that turns heavy blocks
 * the event loop at most once, for that one run (locks last 30 s by default). `inlineFastStages:
 * false` (`mlscale worker --no-inline`) keeps every stage on the threads.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { loadTask } from '../task-loader.js';
import { raiseTaskThreadOldSpace } from './worker-heap.js';
import runThreadTasks, {
  kSharedKept,
  type ThreadReply,
  type ThreadRequest,
} from './thread-worker.js';

/** Requests in a row, each under `kFastMs` on a thread, after which a stage runs on the calling thread. */
export const kFastStreak = 64;
/** ms */
export const kFastMs = 1;
/** A request on the calling thread longer than this (ms) sends its stage back to the threads for good. */
export const kSlowInlineMs = 20;

/** Where one stage (module and export) runs, from what its runs took. */
interface StageRecord {
  /** `module#export`, for log lines. */
  readonly name: string;
  /** Requests in a row that ran on a thread in under `kFastMs`. */
  streak: number;
  inline: boolean;
  /** Ran slow on the calling thread once: stays on the threads. */
  demoted: boolean;
}

interface Pending {
  readonly request: ThreadRequest;
  readonly stage: StageRecord;
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
  readonly #stages = new Map<string, StageRecord>();
  readonly #inlineFastStages: boolean;
  /** Told, in words, when a stage moves to the calling thread or back. */
  readonly #onStageMoved: (line: string) => void;
  #next = 0;
  #destroyed = false;
  #inlineRuns = 0;

  /**
   * @param size - Number of threads.
   * @param entry - The thread's module (`thread-entry.js`).
   * @param options.inlineFastStages - Run stages measured to be trivial on the calling thread
   *   (default true; see the module's comment).
   * @param options.onStageMoved - Told, in words, when a stage moves to the calling thread or back.
   */
  constructor(
    size: number,
    entry: URL,
    options: { inlineFastStages?: boolean; onStageMoved?: (line: string) => void } = {},
  ) {
    this.#entry = entry;
    this.#inlineFastStages = options.inlineFastStages ?? true;
    this.#onStageMoved = options.onStageMoved ?? (() => undefined);
    raiseTaskThreadOldSpace();
    for (let i = 0; i < size; i++)
      this.#slots.push(this.#spawn({ pending: new Map(), shared: new Set() } as unknown as Slot));
  }

  /** Starts (or restarts) the thread of a slot. */
  #spawn(slot: Slot): Slot {
    const worker = new Worker(this.#entry);
    slot.worker = worker;
    slot.shared.clear();
    worker.on('message', ({ id, ok, value, message, lacksShared, ms }: ThreadReply) => {
      const pending = slot.pending.get(id);
      if (!pending) return;
      slot.pending.delete(id);
      if (ok) {
        this.#observe(pending.stage, pending.request, ms!);
        pending.resolve(value);
      } else if (lacksShared === true) {
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

  /** Requests run on the calling thread so far. */
  get inlineRuns(): number {
    return this.#inlineRuns;
  }

  /** Runs a request on the least busy thread, or here when its stage is trivial; resolves with its envelopes. */
  run(request: ThreadRequest): Promise<unknown> {
    if (this.#destroyed) return Promise.reject(new Error('the worker threads are stopped'));
    const stage = this.#stage(request);
    if (stage.inline) return this.#runHere(request, stage);
    let slot = this.#slots[this.#next++ % this.#slots.length]!;
    for (const s of this.#slots) if (s.pending.size < slot.pending.size) slot = s;
    const id = this.#next;
    return new Promise((resolve, reject) => {
      const pending = { request, stage, resolve, reject };
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

  #stage(request: ThreadRequest): StageRecord {
    const key = `${request.task.module}#${request.task.name}`;
    let stage = this.#stages.get(key);
    if (stage === undefined) {
      stage = { name: key, streak: 0, inline: false, demoted: false };
      this.#stages.set(key, stage);
    }
    return stage;
  }

  /** A thread ran a request of `stage` in `ms`: a long enough run of fast ones moves it here. */
  #observe(stage: StageRecord, request: ThreadRequest, ms: number): void {
    // Only packed requests (a worker's jobs) have the same answer here as on a thread.
    if (!this.#inlineFastStages || stage.demoted || stage.inline || request.packed !== true) return;
    stage.streak = ms < kFastMs ? stage.streak + 1 : 0;
    if (stage.streak !== kFastStreak) return;
    // The module is imported here before the first run here, so that its loading time (which
    // may be long: onnxruntime, say) is not taken for the stage's own.
    loadTask(request.task).then(
      () => {
        if (stage.demoted) return;
        stage.inline = true;
        this.#onStageMoved(
          `stage ${stage.name} ran ${kFastStreak} batches in a row in under ${kFastMs} ms each on a thread: it runs on the main thread from now on`,
        );
      },
      () => (stage.demoted = true),
    );
  }

  async #runHere(request: ThreadRequest, stage: StageRecord): Promise<unknown> {
    this.#inlineRuns++;
    const started = performance.now();
    try {
      return await runThreadTasks(request);
    } finally {
      const ms = performance.now() - started;
      if (ms > kSlowInlineMs && !stage.demoted) {
        stage.inline = false;
        stage.demoted = true;
        this.#onStageMoved(
          `stage ${stage.name} took ${ms.toFixed(0)} ms on the main thread: it runs on the threads for good`,
        );
      }
    }
  }

  /** Stops every thread; requests in flight fail. */
  async destroy(): Promise<void> {
    this.#destroyed = true;
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }
}
