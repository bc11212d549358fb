/**
 * The distributed pipeline end to end: `trainModel` on the bullmq executor with real
 * `mlscale worker` processes, against a real Redis, compared with inline.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Queue, QueueEvents } from 'bullmq';
import {
  DataNotFoundError,
  RedisUnavailableError,
  StagesModuleError,
  TaskFailedError,
  WorkerIncompatibleError,
} from '../../src/errors.js';
import { fromErrorPayload } from '../../src/pipeline/executors/task-envelope.js';
import { version } from '../../src/version.js';
import { BullmqExecutor } from '../../src/pipeline/executors/bullmq/bullmq-executor.js';
import {
  decodePayload,
  kTaskQueue,
  parseFailure,
} from '../../src/pipeline/executors/bullmq/protocol.js';
import { trainModel } from '../../src/pipeline/train-model.js';
import { openSource } from '../../src/data/open-source.js';
import { batchCall, batchInputs } from '../../src/pipeline/batch-stream.js';
import type { Executor } from '../../src/pipeline/executors/executor.js';
import { writeTabularFiles } from './tabular-files.js';
import { watchInputs } from './watch-inputs.js';
import type { TrainingOptions } from '../../src/pipeline/options.js';
import { siblingModuleUrl } from '../../src/util/module-url.js';
import { runCli, tempDir } from '../helpers.js';
import { summaryText } from '../../src/cli/summary.js';
import { packageRoot } from '../../src/util/package-root.js';
import {
  dropPrefix,
  freePort,
  killWorkers,
  startWorkers,
  testPrefix,
  testRedis,
  type WorkerProcess,
} from '../redis-helpers.js';

const redis = await testRedis();
const { dir, cleanup } = await tempDir();
after(async () => {
  await cleanup();
  await redis.stop();
});
if (redis.skip) console.log(`# skipping the distributed pipeline tests: ${redis.skip}`);

const fixtures = siblingModuleUrl(import.meta.url, '../fixtures/tasks');
const synthetic: Partial<TrainingOptions> = {
  data: 'synthetic:rows=3000,features=8,classes=3,seed=7',
  batchSize: 400,
  syncEvery: 3,
  epochs: 2,
  hidden: [8],
};

/** Trains and returns what must be identical across executors. */
async function train(name: string, options: Partial<TrainingOptions>, executor?: Executor) {
  const out = join(dir, name);
  if (executor) options = { ...options, executor: 'bullmq', redis: redis.url };
  const trained = await trainModel({ ...options, out }, executor ? { executor } : {});
  return {
    bytes: await readFile(join(out, 'model.onnx')),
    metrics: trained.result.metrics,
    loss: trained.result.epochLoss,
    custom: trained.result.customMetrics,
    executor: trained.metadata.executor,
    trained,
  };
}

function assertSame(
  a: Awaited<ReturnType<typeof train>>,
  b: Awaited<ReturnType<typeof train>>,
): void {
  assert.ok(a.bytes.equals(b.bytes), 'model.onnx differs from inline');
  assert.deepEqual(a.metrics, b.metrics);
  assert.deepEqual(a.loss, b.loss);
  assert.deepEqual(a.custom, b.custom);
}

/** Waits for `condition`, failing after 10 s instead of hanging the suite. */
async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A stages module whose preprocess busy-waits `ms` per batch (and throws for batch `poison`). */
async function stagesModule(name: string, ms: number, poison = -1): Promise<string> {
  const file = join(dir, `${name}.mjs`);
  await writeFile(
    file,
    `export function preprocess(batch) {
  if (batch.id === ${poison}) throw new Error('poisoned batch on purpose');
  const end = performance.now() + ${ms};
  while (performance.now() < end);
  return batch;
}\n`,
  );
  return file;
}

describe(
  'distributed pipeline (bullmq executor, mlscale worker processes)',
  { skip: redis.skip },
  () => {
    const url = redis.url!;
    let inline: Awaited<ReturnType<typeof train>>;
    const prefixes: string[] = [];
    const workers: WorkerProcess[] = [];
    const prefix = (name: string) => {
      const p = testPrefix(name);
      prefixes.push(p);
      return p;
    };
    const start = async (p: string, n: number, extra: string[] = []) => {
      const started = await startWorkers(url, p, n, extra);
      workers.push(...started);
      return started;
    };
    before(async () => {
      inline = await train('inline', { ...synthetic, executor: 'inline' });
    });
    after(async () => {
      await killWorkers(workers);
      for (const p of prefixes) await dropPrefix(url, p);
    });

    test(
      'should train a bitwise-identical model with 1 and with 3 worker processes',
      { timeout: 60_000 },
      async () => {
        const p1 = prefix('identity1');
        await start(p1, 1);
        // Three slots planned (--workers 3), one worker process connected: the summary says one ran.
        const one = await train('bullmq-1', {
          ...synthetic,
          executor: 'bullmq',
          redis: url,
          prefix: p1,
          workers: 3,
        });
        assertSame(one, inline);
        assert.deepEqual(
          { ...(one.executor as object), run: undefined },
          { kind: 'bullmq', workers: 1, slots: 3, run: undefined },
        );
        assert.match(
          summaryText(one.trained),
          /executor {4}bullmq × 1 worker process that ran batches \(3 slots planned, --workers\)/,
        );
        const p3 = prefix('identity3');
        const three = await start(p3, 3);
        assertSame(
          await train('bullmq-3', {
            ...synthetic,
            executor: 'bullmq',
            redis: url,
            prefix: p3,
            workers: 3,
          }),
          inline,
        );
        // Every worker took part.
        await killWorkers(three, 'SIGTERM');
        for (const w of three) assert.match(w.output(), /stopped: [1-9]\d* batches done, 0 failed/);
      },
    );

    test(
      'should ship batches of a source without random access (the digits sample) and run a stages module',
      { timeout: 60_000 },
      async () => {
        const stages = join(process.cwd(), 'examples', 'stages', 'sqrt-counts.js');
        const digits: Partial<TrainingOptions> = {
          data: 'sample:digits',
          stages,
          epochs: 2,
          batchSize: 400,
          hidden: [16],
        };
        const p = prefix('digits');
        await start(p, 2);
        assertSame(
          await train('digits-bullmq', {
            ...digits,
            executor: 'bullmq',
            redis: url,
            prefix: p,
            workers: 2,
          }),
          await train('digits-inline', { ...digits, executor: 'inline' }),
        );
      },
    );

    test(
      'should send CSV and JSON Lines batches named by absolute path as byte ranges, and train the same model as inline',
      { timeout: 90_000 },
      async () => {
        const { csv, jsonl } = await tabularFiles();
        const p = prefix('ranges');
        await start(p, 2);
        for (const data of [csv, jsonl]) {
          const options: Partial<TrainingOptions> = {
            data,
            label: 'y',
            batchSize: 150,
            syncEvery: 3,
            epochs: 2,
            hidden: [8],
          };
          const reference = await train(`ranges-inline-${data.slice(-5)}`, {
            ...options,
            executor: 'inline',
          });
          for (const shipRows of [false, true]) {
            const executor = new BullmqExecutor({
              redis: url,
              prefix: p,
              concurrency: 2,
              pollMs: 200,
            });
            const seen = { ranges: 0, rows: 0 };
            try {
              assertSame(
                await train(
                  `ranges-${shipRows}-${data.slice(-5)}`,
                  { ...options, shipRows },
                  watchInputs(executor, seen),
                ),
                reference,
              );
            } finally {
              await executor.close();
            }
            if (shipRows)
              assert.deepEqual(
                { ranges: seen.ranges, rows: seen.rows > 0 },
                { ranges: 0, rows: true },
                `${data}: --ship-rows sent ranges`,
              );
            else
              assert.deepEqual(
                { ranges: seen.ranges > 0, rows: seen.rows },
                { ranges: true, rows: 0 },
                `${data}: sent rows, not byte ranges`,
              );
          }
        }
      },
    );

    test(
      'should train the same model as inline from a gzip file (its ranges travel with their bytes) and with automatic epochs',
      { timeout: 90_000 },
      async () => {
        const { csv } = await tabularFiles();
        const packed = `${csv}.gz`;
        await writeFile(packed, gzipSync(await readFile(csv)));
        const p = prefix('gzip');
        await start(p, 2);
        for (const options of [
          { data: packed, label: 'y', batchSize: 150, syncEvery: 3, epochs: 2, hidden: [8] },
          { data: csv, label: 'y', batchSize: 150, hidden: [8] },
        ] satisfies Partial<TrainingOptions>[]) {
          const reference = await train(`gz-inline-${options.data.slice(-3)}`, {
            ...options,
            executor: 'inline',
          });
          const executor = new BullmqExecutor({
            redis: url,
            prefix: p,
            concurrency: 2,
            pollMs: 200,
          });
          try {
            const run = await train(`gz-bullmq-${options.data.slice(-3)}`, options, executor);
            assertSame(run, reference);
            assert.deepEqual(run.trained.result.training, reference.trained.result.training);
          } finally {
            await executor.close();
          }
        }
      },
    );

    test(
      'should fail within seconds, naming the worker and the batch, when a worker cannot read the data path',
      { timeout: 60_000 },
      async () => {
        const { csv } = await tabularFiles();
        const p = prefix('nodata');
        await start(p, 1);
        // Real ranges of a real file, handed out under a path this worker does not have.
        const source = openSource(csv);
        const schema = await source.inferSchema({ label: 'y' });
        const calls = [];
        for await (const input of batchInputs(
          source,
          schema,
          { batchRows: 150, onBadRow: 'error' },
          { remote: true, shipRows: false },
        )) {
          const ref = { ...input.ref!, source: `csv:${join(dir, 'not-on-this-worker.csv')}` };
          calls.push(batchCall({ ref, context: { schema, split: { seed: 1, fraction: 0.2 } } }));
          if (calls.length === 4) break;
        }
        const executor = new BullmqExecutor({
          redis: url,
          prefix: p,
          concurrency: 2,
          attempts: 3,
          backoffMs: 1000,
          pollMs: 200,
        });
        const t0 = Date.now();
        try {
          await assert.rejects(
            executor.map(
              {
                module: siblingModuleUrl(import.meta.url, '../../src/pipeline/tasks'),
                name: 'statsTask',
              },
              calls,
            ),
            (err: unknown) => {
              assert.ok(err instanceof DataNotFoundError, String(err));
              assert.match(
                err.message,
                /data file not found: .*not-on-this-worker\.csv: .*--ship-rows.* \(worker [^)]+:\d+\) \(batch \d, after 1 attempt\)/,
              );
              return true;
            },
          );
          assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms: retried?`);
        } finally {
          await executor.close();
        }
      },
    );

    test(
      'should rerun the batch of a SIGKILLed worker elsewhere and still train the identical model',
      { timeout: 60_000 },
      async () => {
        const p = prefix('sigkill');
        // The slow stage leaves the rows as they are: the model must be inline's.
        const options = { ...synthetic, stages: await stagesModule('slow', 80) };
        const timing = ['--lock-duration-ms', '1000', '--stalled-interval-ms', '300'];
        const [victim] = await start(p, 1, timing);
        const queue = new Queue(kTaskQueue, { connection: { url }, prefix: p });
        const events = new QueueEvents(kTaskQueue, { connection: { url }, prefix: p });
        await events.waitUntilReady();
        let stalled = 0;
        events.on('stalled', () => stalled++);
        let executor: BullmqExecutor | undefined;
        try {
          executor = new BullmqExecutor({ redis: url, prefix: p, concurrency: 2, pollMs: 200 });
          const run = train('sigkill-bullmq', options, executor);
          run.catch(() => undefined);
          // Kill the only worker while it holds a batch; a second worker then finds the stalled job.
          await until(async () => (await queue.getActiveCount()) > 0, 'a batch to become active');
          victim!.child.kill('SIGKILL');
          await victim!.exited;
          await start(p, 1, timing);
          assertSame(await run, inline);
          assert.ok(stalled >= 1, 'no job was reported stalled');
          // The driver's own count, from QueueEvents, as its progress bar shows it.
          assert.ok(executor.activity.stalled >= 1, JSON.stringify(executor.activity));
          assert.equal(executor.activity.failed, 0);
        } finally {
          await executor?.close();
          await events.close();
          await queue.close();
        }
      },
    );

    test(
      'should fail the run with the batch id and the error after the attempts of a batch that keeps failing',
      { timeout: 60_000 },
      async () => {
        const p = prefix('poison');
        await start(p, 1);
        const stages = await stagesModule('poison', 0, 2);
        const executor = new BullmqExecutor({
          redis: url,
          prefix: p,
          concurrency: 2,
          attempts: 3,
          backoffMs: 20,
          pollMs: 200,
        });
        await assert.rejects(
          train('poison', { ...synthetic, stages }, executor),
          (err: unknown) => {
            assert.ok(err instanceof TaskFailedError, String(err));
            assert.equal(err.batchId, 2);
            assert.match(
              err.message,
              /batch 2: Error: poisoned batch on purpose \(worker [^)]+\) \(after 3 attempts\)/,
            );
            return true;
          },
        );
        assert.equal(executor.activity.retried, 2, JSON.stringify(executor.activity));
        assert.equal(executor.activity.failed, 1);
        assert.equal(executor.activity.workers, 1);
        await executor.close();
      },
    );

    test(
      'should resume a run whose driver was SIGKILLed from its last completed round, identical to inline',
      { timeout: 60_000 },
      async () => {
        const p = prefix('resume');
        await start(p, 2);
        const stages = await stagesModule('resume-slow', 40);
        const flags = [
          '--data',
          synthetic.data!,
          '--batch-size',
          '400',
          '--sync-every',
          '3',
          '--epochs',
          '3',
          '--hidden',
          '8',
          '--stages',
          stages,
        ];
        const bullmq = [
          '--executor',
          'bullmq',
          '--redis',
          url,
          '--prefix',
          p,
          '--workers',
          '2',
          '--out',
          join(dir, 'resumed'),
          '--json',
        ];
        const driver = spawn(
          process.execPath,
          [join(packageRoot(), 'bin', 'mlscale.js'), 'train', ...flags, ...bullmq],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
        let stderr = '';
        driver.stderr!.on('data', (d: Buffer) => (stderr += d));
        const exited = new Promise((r) => driver.once('exit', r));
        const client = new Redis(url);
        try {
          let run = '';
          await until(
            async () => (run = /bullmq run (\S+)/.exec(stderr)?.[1] ?? '') !== '',
            'the driver to print its run id',
          );
          // Let it complete a few of its nine rounds, then kill it.
          await until(async () => {
            const bytes = await client.getBuffer(`${p}:tasks:checkpoint:${run}`);
            return bytes !== null && decodePayload<{ rounds: number }>(bytes).rounds >= 3;
          }, 'three training rounds');
          driver.kill('SIGKILL');
          await exited;
          const resumed = await runCli(['train', ...flags, ...bullmq, '--resume', run]);
          assert.equal(resumed.code, 0, resumed.stderr);
          const metadata = JSON.parse(
            await readFile(join(dir, 'resumed', 'metadata.json'), 'utf8'),
          );
          assert.ok(
            metadata.training.resumedRounds >= 3,
            `resumed from round ${metadata.training.resumedRounds}`,
          );
          assert.equal(metadata.executor.run, run);
          const reference = await train('resume-inline', {
            ...synthetic,
            epochs: 3,
            executor: 'inline',
          });
          assert.ok(
            (await readFile(join(dir, 'resumed', 'model.onnx'))).equals(reference.bytes),
            'the resumed model differs from inline',
          );
          assert.deepEqual(
            JSON.parse(resumed.stdout).metrics,
            JSON.parse(JSON.stringify(reference.metrics)),
          );
          // A finished run leaves no checkpoint behind.
          assert.equal(await client.exists(`${p}:tasks:checkpoint:${run}`), 0);
        } finally {
          if (driver.exitCode === null && driver.signalCode === null) driver.kill('SIGKILL');
          client.disconnect();
        }
      },
    );

    test(
      'should fail at once, naming the worker and the batch, when a worker cannot import the stages module',
      { timeout: 60_000 },
      async () => {
        const p = prefix('nostages');
        await start(p, 1);
        const stages = await stagesModule('vanishing', 0);
        const executor = new BullmqExecutor({
          redis: url,
          prefix: p,
          concurrency: 2,
          attempts: 3,
          backoffMs: 1000,
          pollMs: 200,
        });
        const t0 = Date.now();
        try {
          // The driver has checked and imported the module; the file is gone before any worker reads it.
          const out = join(dir, 'nostages');
          await assert.rejects(
            trainModel(
              { ...synthetic, stages, executor: 'bullmq', redis: url, out },
              { executor, onExecutor: () => rmSync(stages) },
            ),
            (err: unknown) => {
              assert.ok(err instanceof StagesModuleError, String(err));
              assert.match(
                err.message,
                /--stages: cannot import .*vanishing\.mjs.*\(worker [^)]+\) \(batch \d+, after 1 attempt\)/,
              );
              return true;
            },
          );
          assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms: retried?`);
        } finally {
          await executor.close();
        }
      },
    );

    test(
      'should refuse, at once and naming the worker, a job from a driver of another mlscale version',
      { timeout: 60_000 },
      async () => {
        const p = prefix('version');
        await start(p, 1);
        const queue = new Queue(kTaskQueue, { connection: { url }, prefix: p });
        try {
          const data = {
            version: '0.0.0-old',
            run: 'old',
            round: '1.0',
            batch: 4,
            module: fixtures,
            name: 'double',
          };
          const job = await queue.add('batch 4', data, { jobId: 'old.1.0.4', attempts: 3 });
          // Polled, not awaited as an event: QueueEvents may start reading after the event was written.
          await until(
            async () => (await queue.getJobState(job.id!)) === 'failed',
            'the job to fail',
          );
          const err = fromErrorPayload(
            parseFailure((await queue.getJob(job.id!))!.failedReason),
            4,
          );
          assert.ok(err instanceof WorkerIncompatibleError, String(err));
          assert.match(
            err.message,
            new RegExp(
              `worker \\S+:\\d+ runs mlscale ${version.replace(/\./g, '\\.')} but the driver runs 0\\.0\\.0-old`,
            ),
          );
          assert.equal(
            (await queue.getJob(job.id!))!.attemptsMade,
            1,
            'retried a job that cannot succeed',
          );
        } finally {
          await queue.close();
        }
      },
    );

    test(
      'should keep renewing the lock of a CPU-heavy batch (no stall) and finish the current batch on SIGTERM',
      { timeout: 60_000 },
      async () => {
        const p = prefix('sigterm');
        const [worker] = await start(p, 1, [
          '--lock-duration-ms',
          '500',
          '--stalled-interval-ms',
          '200',
        ]);
        const events = new QueueEvents(kTaskQueue, { connection: { url }, prefix: p });
        await events.waitUntilReady();
        let stalled = 0;
        events.on('stalled', () => stalled++);
        const executor = new BullmqExecutor({ redis: url, prefix: p, concurrency: 1, pollMs: 100 });
        try {
          let active = false;
          events.on('active', () => (active = true));
          // Busy for 2 s, four lock durations: only a lock renewed off the task's thread survives.
          const run = executor.map<{ ms: number }, { threadId: number }>(
            { module: fixtures, name: 'spin' },
            [{ id: 0, input: { ms: 2000 } }],
          );
          await until(async () => active, 'the batch to become active');
          worker!.child.kill('SIGTERM');
          const [out] = await run;
          assert.ok(out!.threadId > 0, 'the task ran on a worker thread');
          assert.equal(await worker!.exited, 0);
          assert.match(worker!.output(), /stopped: 1 batches done, 0 failed/);
          assert.equal(stalled, 0);
        } finally {
          await executor.close();
          await events.close();
        }
      },
    );
  },
);

describe(
  'distributed pipeline when Redis restarts mid-run',
  {
    skip: redis.skip
      ? redis.skip
      : !hasRedisServer() && 'needs redis-server on PATH to restart a private Redis',
  },
  () => {
    test(
      'should reconnect, resubmit what the restarted Redis lost, and finish identical to inline',
      { timeout: 60_000 },
      async () => {
        const port = await freePort();
        const url = `redis://127.0.0.1:${port}`;
        const startServer = async () => {
          const server = spawn(
            'redis-server',
            ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
            { stdio: 'ignore' },
          );
          await waitForRedis(url);
          return server;
        };
        let server = await startServer();
        const p = testPrefix('restart');
        const workers = await startWorkers(url, p, 2, [
          '--lock-duration-ms',
          '1000',
          '--stalled-interval-ms',
          '300',
        ]);
        const executor = new BullmqExecutor({
          redis: url,
          prefix: p,
          concurrency: 2,
          pollMs: 100,
          outageTimeoutMs: 20_000,
        });
        try {
          const options = { ...synthetic, stages: await stagesModule('restart-slow', 40) };
          const reference = await train('restart-inline', { ...synthetic, executor: 'inline' });
          const run = train('restart-bullmq', options, executor);
          let finished = false;
          run.then(() => (finished = true)).catch(() => undefined);
          await new Promise((r) => setTimeout(r, 700));
          assert.equal(finished, false, 'the run ended before Redis was killed');
          server.kill('SIGKILL');
          await new Promise((r) => server.once('exit', r));
          await new Promise((r) => setTimeout(r, 500));
          server = await startServer();
          assertSame(await run, reference);
        } finally {
          await executor.close();
          await killWorkers(workers);
          server.kill('SIGKILL');
        }
      },
    );
  },
);

describe(
  'distributed pipeline when Redis goes away for good',
  { skip: redis.skip ? redis.skip : !hasRedisServer() && 'needs redis-server on PATH' },
  () => {
    test(
      'should fail the run with a clear error once the outage outlasts its limit, not hang',
      { timeout: 60_000 },
      async () => {
        const port = await freePort();
        const url = `redis://127.0.0.1:${port}`;
        const server = spawn(
          'redis-server',
          ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
          { stdio: 'ignore' },
        );
        server.unref();
        await waitForRedis(url);
        const p = testPrefix('gone');
        const workers = await startWorkers(url, p, 1);
        const executor = new BullmqExecutor({
          redis: url,
          prefix: p,
          concurrency: 1,
          pollMs: 100,
          outageTimeoutMs: 1000,
        });
        try {
          const run = executor.map({ module: fixtures, name: 'spin' }, [
            { id: 0, input: { ms: 5000 } },
          ]);
          run.catch(() => undefined);
          await new Promise((r) => setTimeout(r, 500));
          server.kill('SIGKILL');
          const t0 = Date.now();
          await assert.rejects(
            run,
            (err: unknown) =>
              err instanceof RedisUnavailableError &&
              new RegExp(
                `lost Redis at redis://127\\.0\\.0\\.1:${port}/0 for more than 1000 ms`,
              ).test((err as Error).message),
          );
          assert.ok(Date.now() - t0 < 6000, `took ${Date.now() - t0} ms`);
        } finally {
          await executor.close();
          await killWorkers(workers, 'SIGKILL');
          server.kill('SIGKILL');
        }
      },
    );
  },
);

/** A CSV file (quoted commas and line breaks, CRLF) and a JSON Lines file of the same rows, by absolute path. */
let tabular: Promise<{ csv: string; jsonl: string }> | undefined;
function tabularFiles(): Promise<{ csv: string; jsonl: string }> {
  tabular ??= writeTabularFiles(dir);
  return tabular;
}

function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

async function waitForRedis(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const client = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch {
      // not yet
    } finally {
      client.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Redis at ${url} did not start`);
}
