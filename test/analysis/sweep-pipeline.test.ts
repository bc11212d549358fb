/**
 * The pipeline sweep: grid validation (each bad value names its flag), the rows check, and a tiny
 * real sweep on the inline executor whose file passes the sweep file checks.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidOptionError } from '../../src/errors.js';
import { openSource } from '../../src/data/open-source.js';
import {
  firstBatches,
  resolvePipelineSweepOptions,
  sweepPipeline,
} from '../../src/analysis/sweep-pipeline.js';
import { readSweepFile, writeSweepFile } from '../../src/analysis/sweep-file.js';
import { tempDir } from '../helpers.js';

const data = 'synthetic:rows=2000,features=4,classes=2,seed=3';

describe('sweepPipeline options', () => {
  const bad = (options: Parameters<typeof resolvePipelineSweepOptions>[0], message: RegExp) =>
    assert.throws(
      () => resolvePipelineSweepOptions(options),
      (err: Error) => err instanceof InvalidOptionError && message.test(err.message),
      message.source,
    );

  test('should require --data and --batches', () => {
    bad({ batches: [1] }, /options.data is required/);
    bad({ data }, /options.batches is required/);
  });

  test('should reject zero, duplicate and non-number batch counts', () => {
    bad({ data, batches: [0] }, /options.batches must list integers from 1/);
    bad({ data, batches: [2, 2] }, /options.batches lists 2 twice/);
    bad({ data, batches: ['ten' as unknown as number] }, /options.batches must list .*got "ten"/);
  });

  test('should reject more than one worker on the inline executor', () => {
    bad(
      { data, batches: [2], executor: 'inline', workers: [1, 2] },
      /options.workers must be 1 with options.executor inline/,
    );
  });

  test('should reject an unknown executor, bullmq without Redis, and Redis without bullmq', () => {
    bad(
      { data, batches: [2], executor: 'gpu' as 'inline' },
      /options.executor must be one of inline, threads, bullmq, got "gpu"/,
    );
    bad(
      { data, batches: [2], executor: 'bullmq' },
      /options.redis is required with options.executor bullmq/,
    );
    bad(
      { data, batches: [2], executor: 'threads', redis: 'redis://127.0.0.1:6379' },
      /options.redis applies only with options.executor bullmq, not threads/,
    );
    bad({ data, batches: [2], executor: 'bullmq', redis: 'http://x' }, /options.redis/);
  });

  test('should reject bad repeats, epochs and batch size', () => {
    bad(
      { data, batches: [2], repeats: 0 },
      /options.repeats must be an integer from 1 to 100, got 0/,
    );
    bad({ data, batches: [2], epochs: 1.5 }, /options.epochs must be an integer/);
    bad({ data, batches: [2], batchSize: -3 }, /options.batchSize must be an integer from 1/);
    bad(
      { data, batches: [2], statistic: 'mean' as never },
      /options.statistic must be one of median, fastest, got "mean"/,
    );
  });

  test('should reject data with fewer rows than batches', async () => {
    await assert.rejects(
      sweepPipeline({ data: 'synthetic:rows=10,features=2', batches: [5, 20], executor: 'inline' }),
      (err: Error) =>
        err instanceof InvalidOptionError &&
        /has 10 rows, fewer than options.batches 20/.test(err.message),
    );
  });

  test('should reject a batch size that needs more rows than the data has', async () => {
    await assert.rejects(
      sweepPipeline({
        data: 'synthetic:rows=100,features=2',
        batches: [5],
        batchSize: 30,
        executor: 'inline',
      }),
      /options.batches 5 × options.batchSize 30 needs 150 rows, but options.data synthetic:rows=100,features=2 has 100/,
    );
  });
});

describe('firstBatches', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir('mlscale-sweep-pipeline-')));
  after(async () => cleanup?.());

  test('should stop a streamed source after the given number of batches', async () => {
    const file = join(dir, 'rows.csv');
    await writeFile(
      file,
      'a,b,y\n' + Array.from({ length: 50 }, (_, i) => `${i},${i % 7},${i % 2}`).join('\n') + '\n',
    );
    const source = firstBatches(openSource(file), 3);
    const schema = await source.inferSchema({ label: 'y' });
    const ids: number[] = [];
    for await (const batch of source.batches(schema, { batchRows: 10, onBadRow: 'error' }))
      ids.push(batch.id);
    assert.deepEqual(ids, [0, 1, 2]);
  });

  test("should cap a random-access source's batch count", () => {
    const source = firstBatches(openSource('synthetic:rows=1000,features=2'), 4);
    assert.equal(source.randomAccess!.batchCount({ batchRows: 100, onBadRow: 'error' }), 4);
    assert.equal(source.randomAccess!.batchCount({ batchRows: 500, onBadRow: 'error' }), 2);
  });
});

describe('sweepPipeline', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir('mlscale-sweep-pipeline-')));
  after(async () => cleanup?.());

  test('should time every grid point on the first batches × batch size rows and write a valid sweep file', async () => {
    const lines: string[] = [];
    const sweep = await sweepPipeline({
      data: 'synthetic:rows=8000,features=4,classes=2,seed=3',
      batches: [2, 8],
      executor: 'inline',
      onProgress: (l) => lines.push(l),
    });
    assert.equal(sweep.kind, 'pipeline');
    assert.equal(sweep.executor, 'inline');
    assert.equal(sweep.points.length, 2);
    // 8,000 rows / 8 batches: 1,000 rows per batch.
    assert.deepEqual(
      sweep.points.map((p) => [p.batches, p.workers, p.batchSize, p.rows]),
      [
        [2, 1, 1000, 2000],
        [8, 1, 1000, 8000],
      ],
    );
    for (const p of sweep.points) {
      assert.ok(p.seconds > 0);
      assert.deepEqual(Object.keys(p.stageSeconds).sort(), ['evaluate', 'fit', 'train']);
      const stages = Object.values(p.stageSeconds).reduce((a, b) => a + b, 0);
      assert.ok(stages <= p.seconds * 1.01, `stages ${stages} s within the run's ${p.seconds} s`);
    }
    // That four times the batches takes longer is a timing claim, measured in bench:pipeline (O(n)),
    // not asserted here: on a loaded machine the smaller point can be the slower one.
    assert.ok(
      lines.some((l) => /\[run 2\/2\] batches=8 workers=1/.test(l)),
      lines.join('\n'),
    );
    const file = await writeSweepFile(dir, sweep);
    assert.deepEqual(await readSweepFile(file), JSON.parse(JSON.stringify(sweep)));
  });

  test('should record every repeat, and the median or the fastest as the point asks', async () => {
    for (const statistic of ['median', 'fastest'] as const) {
      const lines: string[] = [];
      const sweep = await sweepPipeline({
        data: 'synthetic:rows=2000,features=4,classes=2,seed=3',
        batches: [2],
        executor: 'inline',
        repeats: 3,
        statistic,
        onProgress: (l) => lines.push(l),
      });
      assert.equal(sweep.statistic, statistic);
      const [point] = sweep.points;
      assert.equal(point!.runSeconds!.length, 3);
      const sorted = [...point!.runSeconds!].sort((a, b) => a - b);
      assert.equal(point!.seconds, statistic === 'fastest' ? sorted[0] : sorted[1]);
      assert.ok(
        lines.some((l) => l.includes(`${statistic} of 3`)),
        lines.join('\n'),
      );
      const file = await writeSweepFile(join(dir, statistic), sweep);
      assert.deepEqual(await readSweepFile(file), JSON.parse(JSON.stringify(sweep)));
    }
  });
});
