/**
 * SIGTERM and SIGINT as a server reads them, written once for the lone server and the replicas'
 * primary: the first starts a graceful drain, and a later one cuts what is left of it short (the
 * user asked twice, or a service manager lost patience).
 *
 * @module
 */

/** The signals that stop a server. */
export const kShutdownSignals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/** What a signal asks for: a drain (the first), or to cut the drain short (every later one). */
export interface ShutdownRequest {
  readonly signal: NodeJS.Signals;
  /** True from the second signal on. */
  readonly now: boolean;
  /** Signals received so far, this one included. */
  readonly count: number;
}

/**
 * Calls `shutdown` on each SIGTERM or SIGINT: `now` false the first time, true after.
 *
 * @param target - Where the signals come from; the process, or an emitter in tests.
 * @returns a function that removes the handlers.
 * @example
 * const off = onShutdownSignals(({ now }) => void server.close({ now }));
 */
export function onShutdownSignals(
  shutdown: (request: ShutdownRequest) => void,
  target: Pick<NodeJS.Process, 'on' | 'off'> = process,
  signals: readonly NodeJS.Signals[] = kShutdownSignals,
): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals): void => {
    count++;
    shutdown({ signal, now: count > 1, count });
  };
  for (const s of signals) target.on(s, handler);
  return () => {
    for (const s of signals) target.off(s, handler);
  };
}
