/**
 * `mlscale dashboard`: the web page of pipeline runs (a local runs folder, and bullmq runs in
 * progress from Redis) and of the scaling reports written by `mlscale sweep`.
 *
 * @module
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InvalidOptionError } from '../errors.js';
import { createPipelineDashboard } from '../dashboard/pipeline-app.js';
import { numberFlag, parseFlags, textFlag, type FlagSpec } from './args.js';

const kDefaults = {
  runs: 'runs',
  reports: 'reports',
  host: '127.0.0.1',
  port: 8080,
  prefix: 'mlscale',
} as const;

/** `mlscale dashboard --help`. */
export const dashboardHelp = `Usage: mlscale dashboard [--runs DIR] [--reports DIR] [--redis URL] [--host ADDRESS] [--port N]

A web page of pipeline runs and scaling reports. Open http://HOST:PORT/ in a browser.

  --runs DIR        runs folder: each DIR/<name>/metadata.json, as 'mlscale train --out DIR/<name>'
                    writes it, is a finished run (metrics, time per phase and stage, time per
                    batch over the run)  [${kDefaults.runs}]
  --reports DIR     scaling reports: DIR/<name>/report.html written by 'mlscale sweep', linked
                    and served read-only  [${kDefaults.reports}]
  --redis URL       also list the distributed (--executor bullmq) runs in progress on this Redis:
                    progress from their checkpoints, workers connected, retries, failures
  --prefix NAME     the bullmq key prefix the runs use  [${kDefaults.prefix}]
  --host ADDRESS    address to bind; loopback unless you say otherwise  [${kDefaults.host}]
  --port N          TCP port; 0 picks a free one  [${kDefaults.port}]
  -h, --help        this help

The serve dashboard (live charts of a model server) is at GET /dashboard on 'mlscale serve'.`;

const flags: FlagSpec = {
  runs: { type: 'string' },
  reports: { type: 'string' },
  redis: { type: 'string' },
  prefix: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** Checks that a folder flag names a folder (a missing one is allowed: it lists nothing until it exists). */
async function folderFlag(flag: string, value: string): Promise<string> {
  if (value.trim() === '')
    throw new InvalidOptionError(`${flag} must be a folder, got an empty value`);
  const path = resolve(value);
  const s = await stat(path).catch(() => undefined);
  if (s && !s.isDirectory())
    throw new InvalidOptionError(
      `${flag} must be a folder, got ${JSON.stringify(value)}, which is a file`,
    );
  return path;
}

/** Runs `mlscale dashboard` until SIGINT/SIGTERM; resolves with the exit code. */
export async function dashboardCommand(argv: string[]): Promise<number> {
  const v = parseFlags('dashboard', argv, flags);
  if (v.help) {
    process.stdout.write(dashboardHelp + '\n');
    return 0;
  }
  const runs = await folderFlag('--runs', textFlag(v.runs) ?? kDefaults.runs);
  const reports = await folderFlag('--reports', textFlag(v.reports) ?? kDefaults.reports);
  const host = textFlag(v.host) ?? kDefaults.host;
  if (host.trim() === '')
    throw new InvalidOptionError('--host must be a host name or address, got an empty value');
  const port = numberFlag(v.port) ?? kDefaults.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidOptionError(
      `--port must be an integer from 0 to 65535, got ${JSON.stringify(port)}`,
    );
  }
  const prefix = textFlag(v.prefix) ?? kDefaults.prefix;
  if (prefix === '' || /[\s{}]/.test(prefix))
    throw new InvalidOptionError(
      `--prefix must be a non-empty name without spaces or braces, got ${JSON.stringify(prefix)}`,
    );
  if (v.prefix !== undefined && v.redis === undefined)
    throw new InvalidOptionError('--prefix applies only with --redis');
  let redisRuns;
  const redis = textFlag(v.redis);
  if (redis !== undefined) {
    // Loaded only when asked for: BullMQ and ioredis are not needed for a local runs folder.
    const { parseRedisUrl, probeRedis } =
      await import('../pipeline/executors/bullmq/redis-connection.js');
    const { RedisRuns } = await import('../dashboard/redis-runs.js');
    const target = parseRedisUrl(redis, 'redis');
    await probeRedis(target);
    redisRuns = new RedisRuns(target, prefix);
  }
  const app = await createPipelineDashboard({ runs, reports, ...(redisRuns ? { redisRuns } : {}) });
  let url: string;
  try {
    url = await app.listen({ host, port });
  } catch (err) {
    await app.close();
    const code = (err as NodeJS.ErrnoException).code;
    throw new InvalidOptionError(
      code === 'EADDRINUSE'
        ? `--port ${port} is already in use on ${host}; pick another, or 0 for a free one`
        : `--host ${host} --port ${port} cannot be listened on (${code ?? (err as Error).message})`,
      { cause: err },
    );
  }
  process.stdout.write(
    `mlscale dashboard: runs from ${runs}, reports from ${reports}${redis ? `, bullmq runs from ${redis.replace(/\/\/[^@/]*@/, '//')}` : ''}; open ${url}/\n`,
  );
  return new Promise<number>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      app.close().then(
        () => done(0),
        () => done(1),
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
