/**
 * Test helpers that run the real `mlscale serve` program as a child and read its pino JSON log
 * lines; a free TCP port; a closed-loop load that counts answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../../src/util/package-root.js';

/** A running `mlscale serve` child, its URL once it listens, and every JSON log line so far. */
export interface Served {
  readonly child: ChildProcess;
  readonly url: string;
  readonly logs: Record<string, unknown>[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  /** Resolves with the first log line (so far or to come) that `match` accepts. */
  waitForLog(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
}

/** Stops a served child: SIGTERM, SIGKILL after `graceMs`, and waits for it to exit. */
export async function stopServed(served: Served | undefined, graceMs = 15_000): Promise<void> {
  if (!served || served.child.exitCode !== null || served.child.signalCode !== null) return;
  served.child.kill('SIGTERM');
  const timer = setTimeout(() => served.child.kill('SIGKILL'), graceMs);
  await served.exited;
  clearTimeout(timer);
}

/**
 * Starts `mlscale serve` with `args` and waits for the log line that carries its URL (the line
 * whose `url` is a string, and which `ready` accepts, if given).
 */
export function serveProcess(
  args: string[],
  options: { timeoutMs?: number; ready?: (line: Record<string, unknown>) => boolean } = {},
): Promise<Served> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const child = spawn(
    process.execPath,
    [join(packageRoot(), 'bin', 'mlscale.js'), 'serve', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs: Record<string, unknown>[] = [];
  const waiters: {
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitForLog = (
    match: (l: Record<string, unknown>) => boolean,
    ms = 30_000,
  ): Promise<Record<string, unknown>> => {
    const found = logs.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no matching log line within ${ms} ms; stderr: ${stderr}; logs: ${JSON.stringify(logs.slice(-10))}`,
            ),
          ),
        ms,
      );
      waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`mlscale serve did not log its URL within ${timeoutMs} ms; stderr: ${stderr}`),
      );
    }, timeoutMs);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`mlscale serve exited with ${code} before listening; stderr: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return; // not a log line
      }
      logs.push(entry);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.match(entry)) waiters.splice(i, 1)[0]!.resolve(entry);
      }
      if (
        typeof entry['url'] === 'string' &&
        (options.ready === undefined || options.ready(entry))
      ) {
        clearTimeout(timer);
        resolve({ child, url: entry['url'], logs, exited, stderr: () => stderr, waitForLog });
      }
    });
  });
}

export { freePort } from '../../src/util/free-port.js';

/** Outcomes of a closed-loop load: status code (or 'network') → count. */
export type Outcomes = Map<number | 'network', number>;

/**
 * A closed-loop load: `concurrency` loops, each POSTing `body` to `url` again as soon as its last
 * answer came, until `stop()`; resolves with the count of each outcome.
 */
export function closedLoopLoad(
  url: string,
  body: string,
  concurrency: number,
): { stop: () => Promise<Outcomes>; outcomes: Outcomes; errors: string[] } {
  const outcomes: Outcomes = new Map();
  const errors: string[] = [];
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        const res = await fetch(url, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
          signal: AbortSignal.timeout(15_000),
        });
        const text = await res.text();
        outcomes.set(res.status, (outcomes.get(res.status) ?? 0) + 1);
        if (res.status !== 200 && errors.length < 10)
          errors.push(`${res.status}: ${text.slice(0, 200)}`);
      } catch (err) {
        outcomes.set('network', (outcomes.get('network') ?? 0) + 1);
        if (errors.length < 10)
          errors.push(String((err as Error & { cause?: Error }).cause ?? err));
      }
    }
  });
  return {
    outcomes,
    errors,
    async stop() {
      running = false;
      await Promise.all(loops);
      return outcomes;
    },
  };
}
