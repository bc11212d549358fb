/**
 * Redis and `mlscale worker` processes for the distributed executor's tests.
 *
 * Redis comes from REDIS_URL, or a `redis-server` from PATH started on a free port for this file;
 * when neither exists the tests skip with the reason. Each test uses its own key prefix, so tests
 * (and other users of the same Redis) never see each other's jobs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { deleteKeysUnder } from '../src/pipeline/executors/bullmq/redis-connection.js';
import { packageRoot } from '../src/util/package-root.js';
import { freePort } from '../src/util/free-port.js';

/** A Redis for the tests, or why there is none. */
export type TestRedis =
  | { readonly url: string; readonly skip?: undefined; stop(): Promise<void> }
  | { readonly skip: string; readonly url?: undefined; stop(): Promise<void> };

/**
 * REDIS_URL if set; else a private redis-server on a free port; else a skip reason, or, with
 * MLSCALE_REQUIRE_REDIS set (as .ci/run does), an error.
 */
export async function testRedis(): Promise<TestRedis> {
  const found = await findRedis();
  if (found.skip && process.env.MLSCALE_REQUIRE_REDIS)
    throw new Error(`MLSCALE_REQUIRE_REDIS is set but ${found.skip}`);
  return found;
}

async function findRedis(): Promise<TestRedis> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) return { url: fromEnv, stop: async () => undefined };
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    return {
      skip: 'no Redis: set REDIS_URL or put redis-server on PATH',
      stop: async () => undefined,
    };
  }
  const port = await freePort();
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  // Never outlive the test process, even when it dies without running its after() hooks, and
  // never keep it alive: a test that hangs must end as a failure, not keep the run waiting.
  process.once('exit', () => server.kill('SIGKILL'));
  server.unref();
  const stop = async () => {
    if (server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
  };
  for (let i = 0; i < 50; i++) {
    if (await answers(url)) return { url, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  return { skip: `redis-server on port ${port} did not answer`, stop: async () => undefined };
}

async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export { freePort } from '../src/util/free-port.js';

/** A fresh key prefix: one per test. */
export function testPrefix(name: string): string {
  return `mlscale-test-${name}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under `prefix` (the test's queue, jobs and payloads). */
export async function dropPrefix(url: string, prefix: string): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  try {
    await deleteKeysUnder(client, prefix);
  } finally {
    client.disconnect();
  }
}

/** A running `mlscale worker` process. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves with its exit code once it exits. */
  readonly exited: Promise<number | null>;
}

/** Starts `mlscale worker` processes and waits until each reports ready. */
export async function startWorkers(
  url: string,
  prefix: string,
  count: number,
  extra: string[] = [],
): Promise<WorkerProcess[]> {
  const bin = join(packageRoot(), 'bin', 'mlscale.js');
  const workers = Array.from({ length: count }, () => {
    const child = spawn(
      process.execPath,
      [bin, 'worker', '--redis', url, '--prefix', prefix, ...extra],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    process.once('exit', () => child.kill('SIGKILL'));
    let text = '';
    child.stdout!.on('data', (d: Buffer) => (text += d));
    child.stderr!.on('data', (d: Buffer) => (text += d));
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    return { child, output: () => text, exited };
  });
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`worker not ready in 15 s:\n${w.output()}`)),
            15_000,
          );
          const check = () => {
            if (/ready: concurrency/.test(w.output())) {
              clearTimeout(timer);
              resolve();
            }
          };
          w.child.stdout!.on('data', check);
          void w.exited.then((code) => {
            clearTimeout(timer);
            reject(new Error(`worker exited with ${code} before it was ready:\n${w.output()}`));
          });
          check();
        }),
    ),
  );
  return workers;
}

/** SIGKILLs whatever of `workers` is still running and waits for them. */
export async function killWorkers(
  workers: readonly WorkerProcess[],
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<void> {
  for (const w of workers)
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill(signal);
  await Promise.all(workers.map((w) => w.exited));
}
