/**
 * Restarting every replica without dropping a request (on SIGHUP, or a change in the model
 * repository): one at a time, the new one listens before the one it replaces starts its drain.
 *
 * @module
 */
import type { Logger } from 'pino';
import type { Supervisor } from './supervisor.js';

/**
 * Replaces every serving replica in turn, then the spares (they loaded the old models or
 * settings too). Stops early, leaving the old replica serving, if a new one dies before it listens.
 */
export async function rollingRestart(
  supervisor: Supervisor,
  why: string,
  logger: Logger,
): Promise<void> {
  logger.info({ reason: why, replicas: supervisor.live().length }, 'rolling restart');
  for (const old of supervisor.live()) {
    if (supervisor.stopping) return;
    if (old.retiring || !supervisor.has(old)) continue;
    const fresh = supervisor.fork(old.slot);
    if (!(await supervisor.listening(fresh))) {
      logger.error(
        { replica: old.slot },
        'rolling restart stopped: the new replica died before listening; the old one keeps serving',
      );
      return;
    }
    await supervisor.retire(old);
  }
  for (const spare of supervisor.spares()) void supervisor.retire(spare);
  supervisor.ensureSpares();
  logger.info({ replicas: supervisor.live().length }, 'rolling restart done');
}
