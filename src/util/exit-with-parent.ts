/**
 * For a program started by another mlscale program (a sweep's or the demo's `mlscale serve`):
 * when the parent dies, even by SIGKILL, the child stops the way SIGTERM stops it, instead of
 * living on as an orphan holding a port and CPU. Linux's PR_SET_PDEATHSIG is not reachable from
 * Node, so the parent holds the child's stdin pipe open and its end is the signal: the kernel
 * closes the pipe when the parent exits, however it exits.
 *
 * Opt-in by environment (`MLSCALE_EXIT_WITH_PARENT=1`, set by `startServerProcess`), because a
 * program run from a shell or a service manager may well have a stdin that ends at once
 * (`< /dev/null`) and must not stop for that.
 *
 * @module
 */

/** The environment variable that asks a child to stop when its stdin pipe ends. */
export const kExitWithParentEnv = 'MLSCALE_EXIT_WITH_PARENT';

/**
 * When `MLSCALE_EXIT_WITH_PARENT=1`, sends this process SIGTERM once stdin ends; a no-op
 * otherwise. Does not keep the process alive.
 */
export function exitWithParent(): void {
  if (process.env[kExitWithParentEnv] !== '1') return;
  const stdin = process.stdin;
  let sent = false;
  const stop = (): void => {
    if (sent) return;
    sent = true;
    process.kill(process.pid, 'SIGTERM');
  };
  stdin.once('end', stop);
  stdin.once('close', stop);
  stdin.on('error', stop);
  stdin.on('data', () => {}); // nothing is sent on it; reading is what notices the end
  stdin.resume();
  (stdin as { unref?: () => void }).unref?.();
}
