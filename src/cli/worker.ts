/**
 * `mlscale worker`: one worker process of the distributed (`bullmq`) executor. Takes batch jobs
 * from Redis until SIGTERM/SIGINT, then finishes the jobs it holds and exits.
 *
 * @module
 */
import { DistributedWorker } from '../pipeline/executors/bullmq/worker.js';
import { kDefaultPrefix } from '../pipeline/executors/bullmq/protocol.js';
import { InvalidOptionError } from '../errors.js';
import { numberFlag, parseFlags, textFlag, type FlagSpec } from './args.js';

/** How long a stopping worker waits for its running batches by default: under Kubernetes' 30 s grace. */
const kDefaultStopTimeoutMs = 25_000;

/** `mlscale worker --help`. */
export const workerHelp = `Usage: mlscale worker --redis URL [--concurrency N] [options]

Runs batches for 'mlscale train --executor bullmq' drivers that use the same Redis: start one on
every worker machine. Batches run on worker threads, so a long stage never stops this process
from renewing its job locks. Data named by path must be readable here at the same path.

  --redis URL                 redis://[user:password@]host[:port][/db], or rediss:// for TLS
  --redis-ca FILE             PEM file of the CA that signed a rediss:// Redis's certificate
  --concurrency N             batches run at once  [1]
  --threads N                 worker threads they run on; more threads than cores only add
                              context switches  [--concurrency, at most the CPU count]
  --no-inline                 keep every stage on the threads; by default a stage that ran 64
                              batches in a row in under 1 ms each runs on the main thread (a
                              thread round trip costs more than such a stage), and goes back to
                              the threads for good if one run there takes over 20 ms
  --prefix NAME               Redis key prefix; drivers must use the same  [${kDefaultPrefix}]
  --lock-duration-ms MS       a job's lock lasts this long unless renewed; a killed worker's batch
                              runs again elsewhere after about this long  [30000]
  --stalled-interval-ms MS    how often to look for batches of dead workers  [30000]
  --max-stalled N             times a batch may lose its worker before it fails  [3]
  --connect-timeout-ms MS     give up if Redis does not answer at start within this  [5000]
  --stop-timeout-ms MS        after SIGTERM/SIGINT, how long the running batches may take to
                              finish and report; past it the worker exits 1 and their locks lapse,
                              so they run again elsewhere (keep it under Kubernetes'
                              terminationGracePeriodSeconds)  [${kDefaultStopTimeoutMs}]
  -h, --help                  this help

SIGTERM or SIGINT: stop taking batches, finish the ones running and exit 0, or exit 1 after
--stop-timeout-ms if they could not finish or report (Redis gone); a second signal exits at once.`;

const flags: FlagSpec = {
  redis: { type: 'string' },
  'redis-ca': { type: 'string' },
  concurrency: { type: 'string' },
  threads: { type: 'string' },
  'no-inline': { type: 'boolean' },
  prefix: { type: 'string' },
  'lock-duration-ms': { type: 'string' },
  'stalled-interval-ms': { type: 'string' },
  'max-stalled': { type: 'string' },
  'connect-timeout-ms': { type: 'string' },
  'stop-timeout-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** Runs `mlscale worker` until a signal; resolves with the exit code. */
export async function workerCommand(
  argv: string[],
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const v = parseFlags('worker', argv, flags);
  if (v.help === true) {
    out.write(workerHelp + '\n');
    return 0;
  }
  const redis = textFlag(v.redis);
  if (redis === undefined)
    throw new InvalidOptionError(
      'mlscale worker: --redis URL is required, e.g. --redis redis://127.0.0.1:6379',
    );
  const int = (flag: string): number | undefined => {
    const n = numberFlag(v[flag]);
    if (n !== undefined && (typeof n !== 'number' || !Number.isInteger(n)))
      throw new InvalidOptionError(`--${flag} must be an integer, got ${JSON.stringify(v[flag])}`);
    return n;
  };
  const log = (line: string) => process.stderr.write(`mlscale worker: ${line}\n`);
  const stopTimeoutMs = int('stop-timeout-ms') ?? kDefaultStopTimeoutMs;
  if (stopTimeoutMs < 0 || stopTimeoutMs > 3_600_000)
    throw new InvalidOptionError(
      `--stop-timeout-ms must be an integer from 0 to 3600000, got ${stopTimeoutMs}`,
    );
  const worker = await DistributedWorker.start({
    redis,
    redisCa: textFlag(v['redis-ca']),
    prefix: textFlag(v.prefix),
    concurrency: int('concurrency'),
    threads: int('threads'),
    inlineFastStages: v['no-inline'] !== true,
    lockDurationMs: int('lock-duration-ms'),
    stalledIntervalMs: int('stalled-interval-ms'),
    maxStalledCount: int('max-stalled'),
    connectTimeoutMs: int('connect-timeout-ms'),
    log,
  });
  out.write(
    `mlscale worker ${worker.name} ready: concurrency ${worker.concurrency} on ${worker.threads} thread${worker.threads === 1 ? '' : 's'}\n`,
  );
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        // A second signal: do not wait (Redis may be gone, a batch may hang); its lock lapses and
        // the batch runs again elsewhere.
        log(`${signal} again: exiting now`);
        process.exit(1);
      }
      stopping = true;
      log(
        `${signal}: finishing the running batches, for up to ${stopTimeoutMs} ms (--stop-timeout-ms; send it again to exit now)`,
      );
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  // Bounded: with Redis gone, a batch can neither report nor be handed back, and close() would
  // wait for it as long as Redis stays away.
  let timer: NodeJS.Timeout | undefined;
  const finished = await Promise.race([
    worker.close().then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), stopTimeoutMs))),
  ]);
  clearTimeout(timer);
  if (!finished) {
    log(
      `the running batches did not finish and report within ${stopTimeoutMs} ms (--stop-timeout-ms; is Redis reachable?); exiting 1: their locks lapse and they run again on another worker`,
    );
    process.exit(1);
  }
  out.write(
    `mlscale worker ${worker.name} stopped: ${worker.counts.completed} batches done, ${worker.counts.failed} failed\n`,
  );
  return 0;
}
