/**
 * The bullmq runs in progress on one Redis and prefix, read from the keys this executor owns (see
 * protocol.ts): a run is in progress while its driver-start counter exists (the driver deletes it
 * with the checkpoint at the end, see checkpoints.ts); its progress is its last checkpoint (epoch,
 * rounds, batches trained), its workers the queue's connected workers, and its retries and
 * failures the run's failed jobs kept in the queue. `mlscale dashboard --redis` lists them.
 *
 * @module
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { checkpointKey, decodePayload, kTaskQueue, progressKey, startsKey } from './protocol.js';
import type { RunProgressReport } from '../executor.js';
import { payloadClient, type RedisTarget } from './redis-connection.js';

/** Failed jobs looked at per listing, to count each run's failures. */
const kFailedScan = 500;
/** Runs listed at most. */
const kMaxRuns = 1000;

/** A run in progress. */
export interface BullmqRunProgress {
  readonly run: string;
  /** Its last checkpoint, once the driver has written one. */
  readonly checkpoint?: {
    /** The epoch the checkpoint was taken in (0-based). */
    readonly epoch: number;
    readonly rounds: number;
    /** Batches trained so far. */
    readonly trained: number;
    /** Batches in the data, when the driver knew them. */
    readonly batches?: number;
  };
  /** The driver's last progress report (from the first phase on), when it has sent one. */
  readonly progress?: RunProgressReport;
  /** Workers connected to the queue (every run's), or -1 when the queue could not say. */
  readonly workersConnected: number;
  /** Retries of this run's failed jobs kept in the queue, and the failed jobs. */
  readonly retried: number;
  readonly failed: number;
}

/** Lists the bullmq runs of one Redis and prefix; `close()` when done. */
export class BullmqRuns {
  readonly #redis: Redis;
  readonly #queue: Queue;
  readonly #prefix: string;

  constructor(target: RedisTarget, prefix: string, clientName = 'mlscale-runs') {
    this.#prefix = prefix;
    this.#redis = payloadClient(target, clientName);
    this.#queue = new Queue(kTaskQueue, { connection: { ...target.bullmq }, prefix });
    this.#queue.on('error', () => undefined);
  }

  /** The runs in progress, in the order Redis lists their keys. */
  async listRuns(): Promise<BullmqRunProgress[]> {
    const pattern = startsKey(this.#prefix, '*');
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await this.#redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0' && keys.length < kMaxRuns);
    const base = startsKey(this.#prefix, '');
    const runs = keys.map((k) => k.slice(base.length)).filter((r) => r.length > 0);
    const [workers, failed] = await Promise.all([
      this.#queue.getWorkersCount().catch(() => -1),
      this.#queue.getFailed(0, kFailedScan - 1).catch(() => []),
    ]);
    const out: BullmqRunProgress[] = [];
    for (const run of runs) {
      const bytes = await this.#redis.getBuffer(checkpointKey(this.#prefix, run));
      const saved = bytes
        ? decodePayload<{
            epoch?: number;
            rounds?: number;
            trained?: number;
            stats?: { batches?: number };
          }>(bytes)
        : undefined;
      const progress = parseProgress(await this.#redis.get(progressKey(this.#prefix, run)));
      const mine = failed.filter((j) => j?.data?.run === run);
      out.push({
        run,
        ...(saved
          ? {
              checkpoint: {
                epoch: saved.epoch ?? 0,
                rounds: saved.rounds ?? 0,
                trained: saved.trained ?? 0,
                ...(saved.stats?.batches !== undefined ? { batches: saved.stats.batches } : {}),
              },
            }
          : {}),
        ...(progress ? { progress } : {}),
        workersConnected: workers,
        retried: mine.reduce((s, j) => s + Math.max(0, (j.attemptsMade ?? 1) - 1), 0),
        failed: mine.length,
      });
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.#queue.close(), this.#redis.quit()]);
    this.#redis.disconnect();
  }
}

/** A progress report as the driver wrote it, or undefined when absent or not one. */
function parseProgress(text: string | null): RunProgressReport | undefined {
  if (text === null) return undefined;
  try {
    const p = JSON.parse(text) as RunProgressReport;
    return typeof p?.phase === 'string' && typeof p.runDone === 'number' ? p : undefined;
  } catch {
    return undefined;
  }
}
