import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { advise } from '../../src/analysis/advisor.js';
import { kBatchFull } from '../../src/analysis/analyse-serve.js';
import { amdahlSpeedup } from '../../src/analysis/fit.js';
import type { Recommendation } from '../../src/analysis/recommend.js';
import { kScalingGain } from '../../src/analysis/scaling.js';
import { readSweepFile } from '../../src/analysis/sweep-file.js';
import type { ServeSweep } from '../../src/analysis/sweep-schema.js';
import { packageRoot } from '../../src/util/package-root.js';

const dir = join(packageRoot(), 'test', 'fixtures', 'sweeps', 'bottlenecks');

async function adviceFor(name: string) {
  const sweep = await readSweepFile(join(dir, `${name}.json`));
  const advice = advise([sweep]);
  return { advice, r: advice.recommendations[0]!, text: advice.lines.join('\n') };
}

/**
 * What every recommendation must satisfy, whatever the sweep: its levers come from its
 * bottleneck's list, a serial fit never leads to scaling, batches under the limit never to a
 * larger batch, and a prediction lies inside its own interval.
 */
function assertConsistent(advice: ReturnType<typeof advise>, r: Recommendation): void {
  assert.ok(r.bottleneck.levers.includes(r.lever), `${r.lever} ∉ ${r.bottleneck.levers}`);
  if (r.then) assert.ok(r.bottleneck.levers.includes(r.then));
  const a = advice.analyses[0]!;
  const amdahl = a.scaling?.verdict.amdahlInCores;
  if (amdahl && amdahlSpeedup(amdahl.serialFraction, a.sweep.machine.cpus) < kScalingGain) {
    assert.notEqual(r.lever, 'horizontal', 'Amdahl says serial, yet "add machines"');
    // Vertical only along another dimension than the serial one (replicas for a flat instances series).
    if (r.lever === 'vertical') {
      assert.equal(r.next?.scope, 'serve');
      assert.notEqual(
        a.scaling!.series.dimension,
        'replicas',
        'serial in replicas, yet "add replicas"',
      );
    }
  }
  if (a.kind === 'serve' && a.batch) {
    const k = a.batch.batchSizes.length - 1;
    const fill = a.batch.meanBatch[k];
    if (fill !== null && fill !== undefined && fill < kBatchFull * a.batch.batchSizes[k]!)
      assert.notEqual(r.lever, 'batch', 'batches did not fill, yet "raise the batch limit"');
  }
  if (r.prediction) {
    assert.ok(r.prediction.low <= r.prediction.value, 'prediction below its interval');
    assert.ok(r.prediction.value <= r.prediction.high, 'prediction above its interval');
    assert.ok(r.prediction.low < r.prediction.high, 'an interval of zero width');
  }
}

describe('advisor bottlenecks (one recorded sweep per kind)', () => {
  test('should name the CSV parse as the serial part and never say "add machines" (issue 18)', async () => {
    const { advice, r, text } = await adviceFor('parsing');
    assertConsistent(advice, r);
    assert.equal(r.bottleneck.kind, 'parsing');
    assert.equal(r.bottleneck.where, 'fit');
    assert.equal(r.lever, 'stage');
    assert.match(r.text, /the "fit" phase, which reads and parses data\/sales\.csv on one thread/);
    assert.match(r.text, /3\.2 s of the 4 s run with 2 workers \(80%\) does not shrink/);
    assert.doesNotMatch(text, /Horizontal is the lever|add machines/i);
    assert.match(text, /a speedup of at most 1\.0\dx however many cores/);
    // The prediction is an upper bound: today's rate to what the run gives without the part.
    assert.equal(Math.round(r.prediction!.low), 25_000);
    assert.equal(Math.round(r.prediction!.value), 125_000);
  });

  test('should name a phase that does not shrink with workers', async () => {
    const { advice, r } = await adviceFor('serial-stage');
    assertConsistent(advice, r);
    assert.equal(r.bottleneck.kind, 'serial-stage');
    assert.equal(r.bottleneck.where, 'train');
    assert.equal(r.lever, 'stage');
  });

  test('should name the driver when the time outside the phases holds the workers up', async () => {
    const { advice, r } = await adviceFor('driver');
    assertConsistent(advice, r);
    assert.equal(r.bottleneck.kind, 'driver');
    assert.equal(r.lever, 'stage');
    assert.match(r.text, /the driver \(time outside the phases/);
  });

  test('should say a larger pipeline batch for per-batch overhead, with the size and its gain', async () => {
    const { advice, r } = await adviceFor('batch-overhead');
    assertConsistent(advice, r);
    assert.equal(r.bottleneck.kind, 'batch-overhead');
    assert.equal(r.lever, 'batch');
    assert.equal(r.then, 'horizontal');
    assert.deepEqual(r.next && r.next.scope === 'pipeline' && r.next.batchSize, 3600);
    // 3,600-row batches: 3600/(0.08 + 0.0002·3600) against 100/(0.08 + 0.0002·100) rows/s.
    const factor = 3600 / (0.08 + 0.0002 * 3600) / (100 / 0.1);
    assert.ok(Math.abs(r.prediction!.value / (2000 / 2.1) / factor - 1) < 0.02);
  });

  test('should name memory when the peak is near the machine and scale out or up', async () => {
    const { advice, r } = await adviceFor('memory');
    assertConsistent(advice, r);
    assert.equal(r.bottleneck.kind, 'memory');
    assert.deepEqual(r.bottleneck.levers, ['horizontal', 'vertical']);
    assert.match(r.text, /7,000 MiB of the machine's 8,192 MiB \(85%\)/);
  });

  test('should not raise the batch limit when batches averaged 13.9 rows under 64 (issue 18)', async () => {
    const { advice, r, text } = await adviceFor('batches-not-filling');
    assertConsistent(advice, r);
    assert.equal(r.bottleneck.kind, 'batches-not-filling');
    assert.equal(r.lever, 'horizontal');
    assert.match(r.text, /under a limit of 64 they averaged 13\.9 rows \(22%\)/);
    assert.doesNotMatch(text, /try --max-batch-size 128/);
    assert.match(text, /Batches do not fill: .* the last step's 1\.15x/);
  });

  test('should pull no lever when the load generator set the rates', async () => {
    const { advice, r } = await adviceFor('generator');
    assertConsistent(advice, r);
    assert.equal(r.bottleneck.kind, 'generator');
    assert.equal(r.lever, 'none');
    assert.equal(r.prediction, undefined);
  });

  test('should name the HTTP thread for one replica at one busy core, and add replicas', async () => {
    const { advice, r } = await adviceFor('http-thread');
    assertConsistent(advice, r);
    assert.equal(r.bottleneck.kind, 'http-thread');
    assert.equal(r.lever, 'vertical');
    assert.equal(r.next?.scope === 'serve' && r.next.config.replicas, 2);
    assert.match(r.text, /1 replica at 1\.04 of 2 cores busy/);
  });

  test("should not call the cores free when replicas do not help and the server's CPU was busy (the demo's sweep)", async () => {
    // Recorded by `mlscale demo` on 2 cores: 1 replica 8,360 req/s, 2 replicas 7,350, the server
    // at 63% of the cores with the load generator beside it.
    const sweep = await readSweepFile(join(dir, 'replicas-flat.json'));
    assert.equal(sweep.kind, 'serve');
    const withCpu = (u: number | null) =>
      advise([
        {
          ...sweep,
          configs: (sweep as ServeSweep).configs.map((c) => ({
            ...c,
            cpuUtilisation: u,
          })),
        },
      ]);
    const busy = advise([sweep]);
    const r = busy.recommendations[0]!;
    assertConsistent(busy, r);
    assert.equal(r.lever, 'none');
    assert.match(r.text, /the server kept 1\.26 of 2 cores busy on average \(63%\)/);
    assert.match(r.text, /another replica has no core of its own/);
    assert.doesNotMatch(r.text, /neither this machine's cores/);
    const idle = withCpu(0.3).recommendations[0]!;
    assert.equal(idle.lever, 'none');
    assert.match(idle.text, /the CPU was only 30% busy: the limit is neither this machine's cores/);
    const unknown = withCpu(null).recommendations[0]!;
    assert.equal(unknown.lever, 'none');
    assert.match(unknown.text, /did not measure the server's CPU/);
  });

  test('should name the cores and predict two machines as twice one, within the noise', async () => {
    const { advice, r, text } = await adviceFor('cores');
    assertConsistent(advice, r);
    assert.equal(r.bottleneck.kind, 'cores');
    assert.equal(r.lever, 'horizontal');
    assert.equal(r.next?.machines, 2);
    assert.equal(r.prediction!.value, 2200);
    assert.equal(Math.round(r.prediction!.low), 2090);
    assert.match(
      text,
      /Predicted: req\/s at the SLO on 2 machines behind a load balancer: 2,200 req\/s \(2,090–2,310\)/,
    );
  });

  test('should say vertical with room, predicting the next replicas from the fit with its interval', async () => {
    const { advice, r, text } = await adviceFor('room');
    assertConsistent(advice, r);
    assert.equal(r.bottleneck.kind, 'room');
    assert.equal(r.lever, 'vertical');
    assert.equal(r.next?.scope === 'serve' && r.next.config.replicas, 4);
    // s = 0.034 from 300 → 580: 4 replicas ≈ 1,090 req/s; the interval from ±5% per point.
    assert.ok(r.prediction!.value > 1050 && r.prediction!.value < 1120);
    assert.ok(r.prediction!.low < 1000 && r.prediction!.high > 1150);
    assert.match(text, /Amdahl's serial fraction s = 0\.034 \(0\.000–0\.14\d/);
  });
});
