/**
 * `mlscale worker` processes for a pipeline sweep on the bullmq executor: started against one
 * Redis and key prefix, waited on until each says it is ready, stopped with SIGTERM.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { RedisUnavailableError } from '../errors.js';
import { packageRoot } from '../util/package-root.js';

/** Running `mlscale worker` processes. */
export interface WorkerProcesses {
  readonly children: readonly ChildProcess[];
  /** SIGTERM (they finish their running batch), SIGKILL after `graceMs`; resolves once all exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `count` `mlscale worker --redis <redis> --prefix <prefix>` processes (one batch at a time
 * each) and resolves once every one is ready. Rejects, with every process stopped, when one exits
 * first (its own error in the message) or is not ready within `readyTimeoutMs`.
 */
export async function startWorkerProcesses(
  redis: string,
  prefix: string,
  count: number,
  readyTimeoutMs = 30_000,
  launch: (index: number, argv: string[]) => [string, string[]] = (_, argv) => [
    argv[0]!,
    argv.slice(1),
  ],
): Promise<WorkerProcesses> {
  const bin = join(packageRoot(), 'bin', 'mlscale.js');
  const workers = Array.from({ length: count }, (_, i) => {
    // `launch` may wrap the command (a benchmark runs each in a network namespace and cgroup).
    const [command, args] = launch(i, [
      process.execPath,
      bin,
      'worker',
      '--redis',
      redis,
      '--prefix',
      prefix,
      '--concurrency',
      '1',
    ]);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return { child, exited, output: () => output };
  });
  const stop = async (graceMs = 30_000): Promise<void> => {
    const running = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    for (const w of running) w.child.kill('SIGTERM');
    const timer = setTimeout(() => running.forEach((w) => w.child.kill('SIGKILL')), graceMs);
    await Promise.all(workers.map((w) => w.exited));
    clearTimeout(timer);
  };
  try {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const timer = setTimeout(
              () =>
                reject(
                  new RedisUnavailableError(
                    `mlscale worker --redis ${redis} was not ready within ${readyTimeoutMs} ms: ${w.output().trim()}`,
                  ),
                ),
              readyTimeoutMs,
            );
            const check = (): void => {
              if (!/ ready: concurrency/.test(w.output())) return;
              clearTimeout(timer);
              resolve();
            };
            w.child.stdout!.on('data', check);
            void w.exited.then(() => {
              clearTimeout(timer);
              reject(
                new RedisUnavailableError(
                  `mlscale worker --redis ${redis} exited before it was ready: ${w.output().trim()}`,
                ),
              );
            });
          }),
      ),
    );
  } catch (err) {
    await stop(2000);
    throw err;
  }
  return { children: workers.map((w) => w.child), stop };
}
