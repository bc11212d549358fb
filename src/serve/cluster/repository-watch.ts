/**
 * A change in the model repository (a new version, a replaced model.onnx, a config.json) calls
 * back once the writes have settled, so the replicas restart once per change, not once per file.
 *
 * @module
 */
import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from 'pino';

/** A change restarts the replicas once no further change came for this long, in ms. */
export const kRepositorySettleMs = 1_000;

/** A watch on a repository folder. */
export interface RepositoryWatch {
  /** Counts as a change: `onChange` runs once none came for the settle time (to retry after a restart in progress). */
  changed(): void;
  /** Stops watching. */
  close(): void;
}

/** Watches `root` (recursively) and calls `onChange` once the changes have settled. */
export function watchRepository(
  root: string,
  onChange: () => void,
  logger: Logger,
  settleMs = kRepositorySettleMs,
): RepositoryWatch {
  let watcher: FSWatcher | undefined;
  let settle: NodeJS.Timeout | undefined;
  const changed = (): void => {
    clearTimeout(settle);
    settle = setTimeout(onChange, settleMs);
  };
  try {
    watcher = watch(root, { recursive: true }, changed);
    watcher.on('error', (err) =>
      logger.warn(
        { err },
        'watching the model repository failed; restart with SIGHUP after changing it',
      ),
    );
  } catch (err) {
    logger.warn(
      { err },
      'cannot watch the model repository; restart with SIGHUP after changing it',
    );
  }
  return {
    changed,
    close() {
      clearTimeout(settle);
      watcher?.close();
    },
  };
}
