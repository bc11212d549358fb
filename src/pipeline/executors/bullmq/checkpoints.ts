/**
 * A `bullmq` run's checkpoint: one Redis key beside the queue (msgpack, binary weights), kept as
 * long as failed jobs are, so that `--resume <run>` within that time continues the run. Each
 * command is retried through a Redis outage up to the run's outage limit.
 *
 * @module
 */
import type { Redis } from 'ioredis';
import { RedisUnavailableError } from '../../../errors.js';
import { checkpointKey, decodePayload, encodePayload, progressKey, startsKey } from './protocol.js';
import type { ResolvedBullmqOptions } from './options.js';
import type { CheckpointStore, RunProgressReport } from '../executor.js';

/** Progress reports of the same phase closer than this (ms) are dropped: a watcher polls about once a second. */
const kProgressEveryMs = 250;

/**
 * The checkpoint store of a run.
 *
 * @param connect - Resolves with the run's payload client once connected (the store connects on first use).
 * @param options - The executor's options: prefix, run, how long to keep it, the outage limit.
 */
export function redisCheckpoints(
  connect: () => Promise<Redis>,
  options: Readonly<ResolvedBullmqOptions>,
): CheckpointStore {
  const key = checkpointKey(options.prefix, options.run);
  const retrying = async <T>(what: string, command: (client: Redis) => Promise<T>): Promise<T> => {
    const client = await connect();
    const since = Date.now();
    for (;;) {
      try {
        return await command(client);
      } catch (err) {
        if (Date.now() - since > options.outageTimeoutMs) {
          throw new RedisUnavailableError(
            `could not ${what}: lost Redis at ${options.target.display} for more than ${options.outageTimeoutMs} ms: ${(err as Error).message}`,
            { cause: err },
          );
        }
        await new Promise((r) => setTimeout(r, Math.min(500, options.pollMs)));
      }
    }
  };
  const progress = progressKey(options.prefix, options.run);
  let lastReport: { phase: string; at: number } | undefined;
  return {
    reportProgress: (p: RunProgressReport) => {
      const last = lastReport;
      if (last && last.phase === p.phase && p.at - last.at < kProgressEveryMs) return;
      lastReport = { phase: p.phase, at: p.at };
      // Best effort: a lost report only delays what the dashboard shows.
      connect()
        .then((client) => client.set(progress, JSON.stringify(p), 'EX', options.keepFailedSeconds))
        .catch(() => undefined);
    },
    load: async () => {
      const bytes = await retrying('read the checkpoint', (client) => client.getBuffer(key));
      return bytes === null ? undefined : decodePayload<unknown>(bytes);
    },
    save: async (state) => {
      const bytes = encodePayload(state);
      await retrying('save the checkpoint', (client) =>
        client.set(key, bytes, 'EX', options.keepFailedSeconds),
      );
    },
    clear: async () => {
      await retrying('clear the checkpoint', (client) =>
        client.del(key, progress, startsKey(options.prefix, options.run)),
      );
    },
  };
}
