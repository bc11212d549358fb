/**
 * Distributed (`--executor bullmq`) runs in progress, read from Redis for `mlscale dashboard
 * --redis`: a run is in progress while its driver-start counter exists (the driver deletes it with
 * the checkpoint at the end, see pipeline/executors/bullmq/checkpoints.ts); its progress comes from its last checkpoint
 * (epoch, rounds, batches trained), the workers from the queue's connected workers, and retries and
 * failures from the run's failed jobs kept in the queue.
 *
 * @module
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { checkpointKey, decodePayload, kTaskQueue, startsKey } from '../pipeline/executors/bullmq/protocol.js';
import { payloadClient, type RedisTarget } from '../pipeline/executors/bullmq/redis-connection.js';
import type { RunSummary } from './runs.js';

/** Failed jobs looked at per refresh, to count a run's failures. */
const kFailedScan = 500;

/** Reads the bullmq runs of one Redis and prefix. */
export class RedisRuns {
  readonly #redis: Redis;
  readonly #queue: Queue;
  readonly #prefix: string;

  constructor(target: RedisTarget, prefix: string) {
    this.#prefix = prefix;
    this.#redis = payloadClient(target, 'mlscale-dashboard');
    this.#queue = new Queue(kTaskQueue, { connection: { ...target.bullmq }, prefix });
    this.#queue.on('error', () => undefined);
  }

  /** The runs in progress, newest driver start first. */
  async list(): Promise<RunSummary[]> {
    const pattern = startsKey(this.#prefix, '*');
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await this.#redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0' && keys.length < 1000);
    const base = startsKey(this.#prefix, '');
    const runs = keys.map((k) => k.slice(base.length)).filter((r) => r.length > 0);
    const [workers, failed] = await Promise.all([this.#queue.getWorkersCount().catch(() => -1), this.#queue.getFailed(0, kFailedScan - 1).catch(() => [])]);
    const out: RunSummary[] = [];
    for (const run of runs) {
      const bytes = await this.#redis.getBuffer(checkpointKey(this.#prefix, run));
      const checkpoint = bytes ? decodePayload<{ epoch?: number; rounds?: number; trained?: number; stats?: { batches?: number } }>(bytes) : undefined;
      const mine = failed.filter((j) => j?.data?.run === run);
      out.push({
        id: run,
        source: 'redis',
        status: 'running',
        executor: 'bullmq',
        workers: null,
        createdAt: null,
        rows: null,
        batches: checkpoint?.stats?.batches ?? null,
        epochs: null,
        totalMs: null,
        metric: null,
        progress: { done: checkpoint?.trained ?? 0, total: null, epoch: (checkpoint?.epoch ?? 0) + (checkpoint ? 1 : 0), rounds: checkpoint?.rounds ?? 0 },
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
