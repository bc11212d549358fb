/**
 * What a `bullmq` run's jobs did, across all workers, as the queue's events tell it: the counts a
 * progress display shows (`mlscale train` and the dashboard).
 *
 * @module
 */
import { returnedWorker } from './protocol.js';

/** What the run's jobs did so far, across all workers, from the queue's events. */
export interface BullmqActivity {
  /** Batches completed. */
  completed: number;
  /** Attempts that failed and were retried (after backoff). */
  retried: number;
  /** Batches whose worker died or stopped renewing its lock, put back in the queue. */
  stalled: number;
  /** Batches that failed for good. */
  failed: number;
  /** Worker processes connected to the queue (-1 when Redis does not say). */
  workers: number;
  /** Worker processes that ran at least one of this executor's batches. */
  workersUsed: number;
}

/** The events counted in `BullmqActivity`. */
export type CountedEvent = Exclude<keyof BullmqActivity, 'workers' | 'workersUsed'>;

/** Keeps a run's `BullmqActivity` and tells the listener of each change. */
export class ActivityTracker {
  /** What this run's jobs did so far. */
  readonly activity: BullmqActivity = {
    completed: 0,
    retried: 0,
    stalled: 0,
    failed: 0,
    workers: -1,
    workersUsed: 0,
  };
  /** Called on each change. */
  listener: ((activity: Readonly<BullmqActivity>) => void) | undefined;
  /** Names (`host:pid`) of the workers that ran this executor's batches. */
  readonly #ranBy = new Set<string>();
  /** `<run>.<driver start>.`: the start of the ids of this driver's jobs. */
  #jobPrefix: string | undefined;

  constructor(listener: ((activity: Readonly<BullmqActivity>) => void) | undefined) {
    this.listener = listener;
  }

  /** Counts only the jobs whose id starts with `prefix` (the ones this start of the driver added). */
  countJobsUnder(prefix: string): void {
    this.#jobPrefix = prefix;
  }

  /** Worker processes that ran at least one batch so far. */
  get workersUsed(): number {
    return this.#ranBy.size;
  }

  /** Counts an event of one of this run's jobs. */
  count(key: CountedEvent, jobId: string): void {
    if (this.#jobPrefix === undefined || !jobId.startsWith(this.#jobPrefix)) return;
    this.activity[key]++;
    this.listener?.(this.activity);
  }

  /** Notes the worker named in a completed job's return value. */
  ranOn(value: unknown): void {
    const worker = returnedWorker(value);
    if (worker === undefined || this.#ranBy.has(worker)) return;
    this.#ranBy.add(worker);
    this.activity.workersUsed = this.#ranBy.size;
    this.listener?.(this.activity);
  }

  /** Records the number of workers connected to the queue. */
  setWorkers(workers: number): void {
    if (workers === this.activity.workers) return;
    this.activity.workers = workers;
    this.listener?.(this.activity);
  }
}
