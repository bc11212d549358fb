/**
 * The "optimise the model" lever: a serve sweep that measured a model and its variants, weighed
 * by the advisor beside batching and scaling, costed, and shown in the report. Sweeps are built
 * here, so nothing depends on this machine's speed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { advise } from '../../src/analysis/advisor.js';
import { writeReport } from '../../src/analysis/report.js';
import { checkSweep, readSweepFile } from '../../src/analysis/sweep-file.js';
import type {
  LoadPoint,
  ServeConfigResult,
  ServeSweep,
  VariantInfo,
} from '../../src/analysis/sweep-schema.js';
import { packageRoot } from '../../src/util/package-root.js';
import { tempDir } from '../helpers.js';

function point(rate: number, p99: number): LoadPoint {
  return {
    offeredRate: rate,
    achievedRate: rate,
    requests: rate * 5,
    errors: 0,
    errorsByKind: {},
    latencyMs: { p50: p99 / 4, p90: p99 / 2, p99, p999: p99, max: p99, mean: p99 / 3 },
    meetsSlo: p99 <= 50,
    generatorBound: false,
  };
}

function config(model: string, replicas: number, rate: number, cpu: number): ServeConfigResult {
  return {
    config: {
      model,
      replicas,
      instances: 1,
      intraOpThreads: 1,
      maxBatchSize: 64,
      maxQueueDelayMs: 'auto',
    },
    maxRateAtSlo: rate,
    p99AtMaxMs: 40,
    points: [point(rate, 40), point(rate * 1.2, 900)],
    meanBatchSize: 10,
    cpuUtilisation: cpu,
  };
}

/** digits at 1,000 and 1,900 req/s on 1 and 2 replicas (the CPU full at 2), and a variant at `factor` times that. */
function sweep(factor: number, info: Partial<VariantInfo> = {}): ServeSweep {
  return {
    kind: 'serve',
    schemaVersion: 2,
    createdAt: '2026-12-06T00:00:00Z',
    machine: { cpus: 2, cpuModel: 'test', memoryGiB: 8, node: 'v20', platform: 'linux x64' },
    model: 'digits',
    modelRepository: '/models',
    models: ['digits', 'digits-int8'],
    variants: [
      {
        model: 'digits-int8',
        variant: 'int8',
        of: 'digits',
        sizeRatio: 0.27,
        quality: {
          kind: 'data',
          metric: 'accuracy',
          original: 0.9611,
          value: 0.9589,
          drop: 0.22,
          rows: 360,
          split: 'the held-out rows of the training split (seed 42, fraction 0.2)',
        },
        maxAccuracyDrop: 0.5,
        ...info,
      },
    ],
    rowsPerRequest: 1,
    sloP99Ms: 50,
    pointDurationS: 5,
    configs: [
      config('digits', 1, 1000, 0.5),
      config('digits-int8', 1, 1000 * factor, 0.5),
      config('digits', 2, 1900, 0.95),
      config('digits-int8', 2, 1900 * factor, 0.95),
    ],
  };
}

describe('advise: optimise the model', () => {
  test('should make a variant that is faster within the accuracy limit the first lever, then scaling, with its numbers', () => {
    const advice = advise([sweep(2.1)]);
    const r = advice.recommendations[0]!;
    assert.equal(r.lever, 'optimize');
    assert.equal(r.then, 'horizontal');
    assert.match(
      r.text,
      /^Optimising the model is a lever: digits-int8 serves 2\.10x the requests per machine, so a million predictions cost 48% of what they cost with digits on any machine size/,
    );
    const a = advice.analyses[0]!;
    assert.ok(a.kind === 'serve');
    // Batching and scaling are read from the base model's configurations only.
    assert.deepEqual(a.scaling?.series.x, [1000, 1900]);
    assert.equal(a.variants[0]!.speedup, 2.1);
    const text = advice.lines.join('\n');
    assert.match(
      text,
      /Next lever: optimise the model \(serve its faster variant\), then horizontal/,
    );
    assert.match(
      text,
      /digits-int8 \(the int8 variant of digits\) serves 3,990 req\/s at the SLO against 1,900 for digits, 2\.10x/,
    );
    assert.match(
      text,
      /configuration by configuration: 1 replica × 1 instance × 1 thread, batch ≤ 64, auto delay: 2,100 against 1,000; 2 replicas/,
    );
    assert.match(
      text,
      /By accuracy, it costs 0\.22 points of accuracy \(0\.9611 → 0\.9589 on 360 rows: the held-out rows of the training split/,
    );
    assert.match(text, /its file is 0\.27x the size/);
  });

  test('should price the variant against the model as it is and call it the cheapest', () => {
    const advice = advise([sweep(2.1)], {
      prices: { '2cpu': 0.1, '8cpu': 0.38 },
      targetRate: 10_000,
    });
    const optimize = advice.costs.find((c) => c.direction === 'optimize')!;
    const horizontal = advice.costs.find((c) => c.direction === 'horizontal')!;
    assert.equal(optimize.model, 'digits-int8');
    assert.equal(optimize.machines, Math.ceil(10_000 / 3990));
    assert.equal(horizontal.machines, Math.ceil(10_000 / 1900));
    assert.ok(optimize.costPerMillion! < horizontal.costPerMillion!);
    const costs = advice.costStatements.join('\n');
    assert.match(
      costs,
      /Serving digits-int8 on 2cpu at \$0\.10\/h: 3,990 req\/s at the SLO per machine \(measured serving digits-int8 on this 2-CPU machine\)/,
    );
    assert.match(
      costs,
      /Cheapest: 3 × 2cpu \(optimise the model: serve digits-int8\)\. .*Optimising the model \(3 × 2cpu serving digits-int8\) \$0\.00833 against \$0\.0167 for the model as it is\./,
    );
  });

  test('should not pull a variant that loses more accuracy than allowed, saying why', () => {
    const advice = advise([
      sweep(2.1, {
        quality: {
          kind: 'data',
          metric: 'accuracy',
          original: 0.96,
          value: 0.947,
          drop: 1.3,
          rows: 360,
          split: 'held-out rows',
        },
      }),
    ]);
    assert.equal(advice.recommendations[0]!.lever, 'horizontal');
    assert.match(
      advice.lines.join('\n'),
      /digits-int8 is 2\.10x as fast but costs 1\.3 points of accuracy, more than the 0\.5 allowed/,
    );
  });

  test('should not pull a variant that is no faster, and flag one whose accuracy was not measured', () => {
    const slow = advise([sweep(1.03)]);
    assert.equal(slow.recommendations[0]!.lever, 'horizontal');
    assert.match(
      slow.lines.join('\n'),
      /Optimising the model is not a lever here: digits-int8 served 1\.03x the rate of digits at the SLO, under the 1\.10x/,
    );
    const unknown = advise([sweep(1.8, { quality: undefined })]);
    assert.equal(unknown.recommendations[0]!.lever, 'optimize');
    assert.match(
      unknown.recommendations[0]!.text,
      /Serve digits-int8 before adding machines, once its accuracy cost is measured\./,
    );
    assert.match(
      unknown.lines.join('\n'),
      /its accuracy cost was not measured \(run mlscale optimize with --data to measure it\)/,
    );
  });

  test('should bound the accuracy cost by the top-1 agreement when no data was given', () => {
    const advice = advise([
      sweep(2, {
        quality: { kind: 'agreement', rows: 1024, top1: 0.998, maxAbsDiff: 0.01, drop: 0.2 },
      }),
    ]);
    assert.equal(advice.recommendations[0]!.lever, 'optimize');
    assert.match(
      advice.lines.join('\n'),
      /its top-1 class matched the original's on 100% of 1,024 made-up rows, so it costs at most 0\.2 points of accuracy/,
    );
  });
});

describe('sweep files with variants', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir('mlscale-advisor-variants-')));
  after(() => cleanup());

  test('should read a version 2 sweep with configurations of several models, and still read version 1 files', async () => {
    const s = sweep(2);
    assert.deepEqual(
      checkSweep(JSON.parse(JSON.stringify(s)), 'v2.json'),
      JSON.parse(JSON.stringify(s)),
    );
    const v1 = await readSweepFile(join(packageRoot(), 'test', 'fixtures', 'sweeps', 'serve-2cpu'));
    assert.equal(v1.schemaVersion, 1);
    const a = advise([v1]).analyses[0]!;
    assert.ok(a.kind === 'serve' && a.variants.length === 0);
    // The same configuration of two models is no duplicate; of one model it is.
    const twice = { ...s, configs: [...s.configs, config('digits', 1, 5, 0.1)] };
    assert.throws(
      () => checkSweep(JSON.parse(JSON.stringify(twice)), 'dup.json'),
      /measures the same configuration as \$\.configs\[0\] \(digits: 1 replica/,
    );
    const noBase = { ...s, configs: s.configs.filter((c) => c.config.model !== 'digits') };
    assert.throws(
      () => checkSweep(JSON.parse(JSON.stringify(noBase)), 'nobase.json'),
      /no configuration measured the model "digits" \(\$\.model\)/,
    );
  });

  test('should put the lever first in the report, with a chart of the variants', async () => {
    const s = sweep(2.1);
    const { html, markdown } = await writeReport(
      dir,
      [s],
      advise([s], { prices: { '2cpu': 0.1 } }),
    );
    const page = await readFile(html, 'utf8');
    assert.match(
      page,
      /<strong>Serving: optimise the model \(serve its faster variant\), then horizontal/,
    );
    assert.match(page, /data-chart="serve-1-variants"/);
    assert.match(page, /optimise: digits-int8/);
    assert.match(
      await readFile(markdown, 'utf8'),
      /!\[Throughput at the SLO per model variant\]\(charts\/serve-1-variants\.svg\)/,
    );
  });
});
