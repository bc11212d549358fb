import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { advise } from '../../src/analysis/advisor.js';
import type { NextConfig } from '../../src/analysis/recommend.js';
import { readSweepFile } from '../../src/analysis/sweep-file.js';
import { verifyRecommendation, type VerifyRunners } from '../../src/analysis/verify.js';
import { packageRoot } from '../../src/util/package-root.js';

const dir = join(packageRoot(), 'test', 'fixtures', 'sweeps', 'bottlenecks');

/** Runners that answer `value` and remember what they were asked to run. */
function fake(value: number): VerifyRunners & { asked: NextConfig[] } {
  const asked: NextConfig[] = [];
  return {
    asked,
    pipeline: async (_s, next) => (asked.push(next), value),
    serve: async (_s, next) => (asked.push(next), value),
  };
}

async function recommendationFor(name: string) {
  const sweep = await readSweepFile(join(dir, `${name}.json`));
  return { sweep, rec: advise([sweep]).recommendations[0]! };
}

describe('advise --verify', () => {
  test('should run the next serve configuration and report the error against the prediction', async () => {
    const { sweep, rec } = await recommendationFor('room');
    const runners = fake(1050);
    const v = await verifyRecommendation(sweep, rec, runners);
    assert.ok(!('skipped' in v));
    assert.equal(runners.asked.length, 1);
    const next = runners.asked[0]!;
    assert.equal(next.scope === 'serve' && next.config.replicas, 4);
    assert.ok(Math.abs(v.error - (1050 - v.prediction.value) / v.prediction.value) < 1e-12);
    assert.equal(v.holds, true);
    assert.equal(v.inInterval, true);
    assert.match(
      v.text,
      /^Verified: req\/s at the SLO with 4 replicas: predicted 1,087 req\/s \(797–1,260\), measured 1,050 req\/s — −3\.4% \(within the 15% target; inside the interval\)\.$/,
    );
  });

  test('should say when a measurement misses the target and the interval', async () => {
    const { sweep, rec } = await recommendationFor('room');
    const v = await verifyRecommendation(sweep, rec, fake(700));
    assert.ok(!('skipped' in v));
    assert.equal(v.holds, false);
    assert.equal(v.inInterval, false);
    assert.match(v.text, /— −36% \(outside the 15% target; outside the interval\)/);
  });

  test('should run the pipeline at the batch size it recommends', async () => {
    const { sweep, rec } = await recommendationFor('batch-overhead');
    const runners = fake(2000);
    const v = await verifyRecommendation(sweep, rec, runners);
    assert.ok(!('skipped' in v));
    assert.deepEqual(runners.asked[0], {
      scope: 'pipeline',
      executor: 'threads',
      batchSize: 3600,
      batches: 20,
      workers: 1,
      machines: 1,
    });
  });

  test('should skip, with the reason, what one machine cannot measure or what names no configuration', async () => {
    const cores = await recommendationFor('cores');
    const a = await verifyRecommendation(cores.sweep, cores.rec, fake(1));
    assert.ok('skipped' in a);
    assert.match(a.skipped, /needs 2 machines and this is one: npm run bench:hosts/);
    const gen = await recommendationFor('generator');
    const b = await verifyRecommendation(gen.sweep, gen.rec, fake(1));
    assert.ok('skipped' in b);
    assert.match(b.skipped, /names no configuration to run/);
  });
});
