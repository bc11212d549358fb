/**
 * The serve sweep: each bad grid or setting is refused naming its flag; a tiny real sweep (one
 * configuration, one-second points) against `mlscale serve` finds a rate within the SLO and writes
 * a sweep file that passes the checks; a model that fails to load, or a name the repository does
 * not hold, is a clear coded error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  InvalidOptionError,
  ModelNotFoundError,
  ServerUnreachableError,
} from '../../src/errors.js';
import { resolveServeSweepOptions, sweepServe } from '../../src/analysis/sweep-serve.js';
import { histogramTotals } from '../../src/analysis/server-process.js';
import { readSweepFile, writeSweepFile } from '../../src/analysis/sweep-file.js';
import { tempDir } from '../helpers.js';
import { smallModelBytes, writeModel } from '../serve/server/server-fixture.js';

describe('sweepServe options', () => {
  const bad = (options: Parameters<typeof resolveServeSweepOptions>[0], message: RegExp) =>
    assert.throws(
      () => resolveServeSweepOptions(options),
      (err: Error) => err instanceof InvalidOptionError && message.test(err.message),
      message.source,
    );
  const model = 'm';

  test('should require a model', () => {
    bad({}, /options.model is required/);
  });

  test('should reject zero replicas, duplicates and non-numbers in the grid', () => {
    bad(
      { model, replicas: [0] },
      /options.replicas must list integers from 1 to 64, comma-separated, got 0/,
    );
    bad({ model, instances: [1, 2, 1] }, /options.instances lists 1 twice/);
    bad(
      { model, maxBatchSize: ['many' as unknown as number] },
      /options.maxBatchSize must list .*got "many"/,
    );
    bad(
      { model, maxQueueDelayMs: ['later' as unknown as number] },
      /options.maxQueueDelayMs must list numbers from 0 to 60000 or "auto"/,
    );
    bad({ model, replicas: [] }, /options.replicas must list .*got an empty list/);
  });

  test('should reject a batch size smaller than the rows of a request', () => {
    bad(
      { model, maxBatchSize: [1, 8], rowsPerRequest: 4 },
      /options.maxBatchSize 1 is smaller than options.rowsPerRequest 4/,
    );
  });

  test('should reject bad load settings, naming the flag', () => {
    bad({ model, sloP99Ms: 0 }, /options.sloP99Ms must be a number from 0.01/);
    bad({ model, pointDurationMs: 10 }, /options.pointDurationMs must be an integer from 100/);
    bad({ model, maxPoints: 0 }, /options.maxPoints must be an integer from 1 to 100, got 0/);
    bad({ model, rowsPerRequest: 0 }, /options.rowsPerRequest must be an integer from 1/);
    bad(
      { model, errorAllowance: 2 },
      /options.errorAllowance must be a number from 0 to 0.5, got 2/,
    );
  });

  test('should fill the defaults: one configuration with the adaptive delay', () => {
    const o = resolveServeSweepOptions({ model });
    assert.deepEqual(
      [o.replicas, o.instances, o.maxBatchSize, o.maxQueueDelayMs],
      [[1], [1], [64], ['auto']],
    );
    assert.equal(o.sloP99Ms, 50);
    assert.equal(o.pointDurationMs, 5000);
  });
});

describe('histogramTotals', () => {
  test("should add up one model's histogram sum and count over its versions", () => {
    const text = [
      '# TYPE mlscale_inference_batch_size histogram',
      'mlscale_inference_batch_size_bucket{le="1",model="m",version="1"} 3',
      'mlscale_inference_batch_size_sum{model="m",version="1"} 40',
      'mlscale_inference_batch_size_count{model="m",version="1"} 5',
      'mlscale_inference_batch_size_sum{model="m",version="2"} 10',
      'mlscale_inference_batch_size_count{model="m",version="2"} 5',
      'mlscale_inference_batch_size_sum{model="other",version="1"} 99',
      'mlscale_inference_batch_size_count{model="other",version="1"} 1',
    ].join('\n');
    assert.deepEqual(histogramTotals(text, 'mlscale_inference_batch_size', 'm'), {
      sum: 50,
      count: 10,
    });
  });
});

describe('sweepServe', () => {
  let repo: string;
  let dir: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-sweep-serve-');
    cleanup = tmp.cleanup;
    dir = tmp.dir;
    repo = join(dir, 'models');
    await writeModel(repo, 'small', 1, smallModelBytes());
  });

  after(async () => cleanup?.());

  test('should find a rate within the SLO for one configuration and write a valid sweep file', async (t) => {
    const lines: string[] = [];
    const sweep = await sweepServe({
      modelRepository: repo,
      model: 'small',
      replicas: [1],
      instances: [1],
      maxBatchSize: [8],
      // Generous: the test checks the search, not this shared machine's latency.
      sloP99Ms: 250,
      pointDurationMs: 1000,
      warmupMs: 200,
      maxPoints: 3,
      probeConnections: 8,
      onProgress: (line) => lines.push(line),
    });
    assert.equal(sweep.kind, 'serve');
    assert.equal(sweep.model, 'small');
    assert.equal(sweep.configs.length, 1);
    const result = sweep.configs[0]!;
    assert.deepEqual(
      { ...result.config },
      {
        replicas: 1,
        instances: 1,
        intraOpThreads: availableParallelism(),
        maxBatchSize: 8,
        maxQueueDelayMs: 'auto',
      },
    );
    // The probe, then up to three open-loop points.
    assert.equal(result.points[0]!.offeredRate, null);
    assert.ok(
      result.points.length >= 2 && result.points.length <= 4,
      JSON.stringify(result.points),
    );
    // The rate found is the best point that met the SLO with the server, not the generator, as
    // the limit. On a machine too busy for this process to send on time, every point can be
    // generator-bound: then none is taken, which is the behaviour to check (a rate found there
    // would be the generator's).
    const open = result.points.slice(1);
    const met = open.filter((p) => p.meetsSlo);
    for (const p of met) assert.ok(p.latencyMs.p99 <= 250 && !p.generatorBound);
    if (met.length === 0) {
      assert.equal(result.maxRateAtSlo, 0);
      assert.equal(result.p99AtMaxMs, null);
      t.diagnostic(`no point met the SLO on this machine now:\n${lines.join('\n')}`);
    } else {
      assert.equal(result.maxRateAtSlo, Math.max(...met.map((p) => p.offeredRate!)));
      assert.ok(result.p99AtMaxMs !== null && result.p99AtMaxMs <= 250);
      const best = result.points.find((p) => p.offeredRate === result.maxRateAtSlo)!;
      assert.ok(best.meetsSlo && !best.generatorBound && best.errors === 0);
    }
    assert.ok(
      result.meanBatchSize !== null && result.meanBatchSize >= 1 && result.meanBatchSize <= 8,
      String(result.meanBatchSize),
    );
    assert.ok(
      result.cpuUtilisation !== null && result.cpuUtilisation > 0 && result.cpuUtilisation <= 1,
      String(result.cpuUtilisation),
    );
    assert.ok(
      lines.some((l) =>
        /^\[config 1\/1\] replicas=1 .*: probe \(closed loop, 8 connections\)/.test(l),
      ),
      lines.join('\n'),
    );
    const file = await writeSweepFile(join(dir, 'out'), sweep);
    assert.deepEqual(await readSweepFile(file), JSON.parse(JSON.stringify(sweep)));
  });

  test('should say which models the server has when the named one is not there', async () => {
    await assert.rejects(
      sweepServe({
        modelRepository: repo,
        model: 'churn',
        pointDurationMs: 200,
        warmupMs: 0,
        maxPoints: 1,
      }),
      (err: Error) =>
        err instanceof ModelNotFoundError &&
        /--model churn: the server has no model of that name; it serves: small/.test(err.message),
    );
  });

  test('should fail with the reason when the model cannot be loaded', async () => {
    const broken = join(dir, 'broken');
    await writeModel(broken, 'bad', 1, new Uint8Array([1, 2, 3]));
    await assert.rejects(
      sweepServe({
        modelRepository: broken,
        model: 'bad',
        pointDurationMs: 200,
        warmupMs: 0,
        maxPoints: 1,
      }),
      (err: Error) =>
        err instanceof ServerUnreachableError && /model "bad" failed to load/.test(err.message),
    );
  });

  test("should fail with the server's own message when it cannot start", async () => {
    await writeFile(join(dir, 'not-a-folder'), 'x');
    await assert.rejects(
      sweepServe({
        modelRepository: join(dir, 'not-a-folder'),
        model: 'small',
        pointDurationMs: 200,
        warmupMs: 0,
        maxPoints: 1,
      }),
      (err: Error) =>
        err instanceof ServerUnreachableError &&
        /exited with 1 before it was ready: mlscale: /.test(err.message),
    );
  });
});
