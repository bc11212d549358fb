/**
 * The one interface every executor implements. The pipeline imports only this file; which
 * executor runs it (inline, threads, bullmq) is chosen at the edge, by the CLI or the caller.
 *
 * @module
 */

/**
 * Names a task function by module and export, so the same code runs inline, in a worker thread,
 * or in a worker process on another machine.
 */
export interface TaskRef {
  /** A `file:` URL (or an absolute path) of an ES module. */
  readonly module: string;
  /** Name of the exported function: `(input) => output | Promise<output>`. */
  readonly name: string;
}

/** One call of a task. The task must treat `input` as read-only: inline executors do not copy it. */
export interface TaskCall<I> {
  readonly input: I;
  /** Batch id this call works on, named in errors. */
  readonly id: number;
  /**
   * Buffers that belong to this call alone and may be moved to the worker instead of copied
   * (a batch's typed arrays). Never list a buffer that other calls share (the round's weights):
   * a transferred buffer is detached on the sending side.
   */
  readonly transfer?: readonly ArrayBuffer[];
}

/** Runs tasks; the pipeline never knows which implementation it has. */
export interface Executor {
  /** `inline`, `threads`, ... — for summaries and metadata. */
  readonly kind: string;
  /** How many tasks can usefully run at once (worker count; 1 for inline). */
  readonly concurrency: number;
  /**
   * Runs `task` once per call and resolves with the outputs in call order, whatever order they
   * complete in. Rejects with the first failure (by call order), as a coded error naming the call.
   */
  map<I, O>(task: TaskRef, calls: readonly TaskCall<I>[]): Promise<O[]>;
  /** Releases workers. Calls after close reject with `ExecutorClosedError`. */
  close(): Promise<void>;
  /**
   * Durable storage for the run's progress, present on executors whose runs can outlive the driver
   * (`bullmq`): the pipeline saves its state after every training round and a restarted driver
   * with the same run id continues from there.
   */
  readonly checkpoints?: CheckpointStore;
  /** The run's id, when the executor namespaces runs (`bullmq`). */
  readonly run?: string;
  /**
   * True when tasks run in other processes, maybe on other machines (`bullmq`): a batch then
   * costs a trip through the network and the queue, so file batches go as byte ranges that the
   * workers read themselves (when the file is on storage they share), not as rows.
   */
  readonly remote?: boolean;
  /**
   * Worker processes that ran at least one task so far, when the executor can tell (`bullmq`);
   * `concurrency` is only what it planned for.
   */
  readonly workersUsed?: number;
}

/** Where a run's latest state is kept. */
export interface CheckpointStore {
  /** The last saved state, or undefined when the run has none. */
  load(): Promise<unknown>;
  /** Replaces the saved state. */
  save(state: unknown): Promise<void>;
  /** Forgets the state (the run finished). */
  clear(): Promise<void>;
  /**
   * Publishes where the run is (phase, batches done and total) for watchers such as the dashboard,
   * from its first phase on; best effort, never throws, may drop reports that come too fast.
   */
  reportProgress?(progress: RunProgressReport): void;
}

/** Where a run is, as `reportProgress` publishes it. */
export interface RunProgressReport {
  /** `fit`, `train` or `evaluate`. */
  readonly phase: string;
  /** Batches done in this phase (training counts every epoch), and the phase's total once known. */
  readonly done: number;
  readonly total?: number;
  /** Batches done in the whole run (every phase), and the run's total once known. */
  readonly runDone: number;
  readonly runTotal?: number;
  /** The epoch in progress (1-based) and training rounds done. */
  readonly epoch?: number;
  readonly rounds?: number;
  /** When this was reported (ms since the epoch). */
  readonly at: number;
}

/** The executor kinds this build knows. */
export const executorKinds = ['inline', 'threads', 'bullmq'] as const;
export type ExecutorKind = (typeof executorKinds)[number];
