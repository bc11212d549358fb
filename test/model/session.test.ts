import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { initParameters, parameterShapes } from '../../src/model/parameters.js';
import { Prng } from '../../src/model/prng.js';
import { clearSessionCache, createSession, getCachedSession } from '../../src/model/session.js';
import type { ModelSpec } from '../../src/model/spec.js';
import { buildTrainStepGraph } from '../../src/model/train-graph.js';
import { feedsFor, randomArray, randomTargets, smallSpec } from './helpers.js';

describe('session', () => {
  after(() => clearSessionCache());

  test('should build a cached session once per key, even for concurrent callers', async () => {
    let builds = 0;
    const build = (): Uint8Array => {
      builds += 1;
      return buildTrainStepGraph(smallSpec('linear', 'regression'));
    };
    const [a, b] = await Promise.all([
      getCachedSession('session-test:once', build),
      getCachedSession('session-test:once', build),
    ]);
    const c = await getCachedSession('session-test:once', build);
    assert.equal(builds, 1);
    assert.equal(a, b);
    assert.equal(a, c);
  });

  test('should not cache a failed creation', async () => {
    let calls = 0;
    const bad = (): Uint8Array => {
      calls += 1;
      return new Uint8Array([1, 2, 3]);
    };
    await assert.rejects(getCachedSession('session-test:bad', bad));
    await assert.rejects(getCachedSession('session-test:bad', bad));
    assert.equal(calls, 2);
  });

  test('should reject a non-integer thread count', async () => {
    await assert.rejects(createSession(new Uint8Array(0), { intraOpThreads: 0 }), TypeError);
  });

  test('should give bitwise-identical gradients across sessions and runs', async () => {
    // Wide enough that onnxruntime's optimized Gemm kernels (not a naive loop) do the work.
    const spec: ModelSpec = {
      ...smallSpec('mlp', 'classification', 'relu', [48]),
      inputs: 96,
      outputs: 10,
    };
    const rng = new Prng(17);
    const rows = 200;
    const feeds = feedsFor(
      spec,
      parameterShapes(spec),
      initParameters(spec, 2),
      randomArray(rng, rows * spec.inputs),
      rows,
      randomTargets(rng, spec, rows),
    );
    const bytes = buildTrainStepGraph(spec);
    const results: Float32Array[][] = [];
    for (let s = 0; s < 2; s++) {
      const session = await createSession(bytes);
      for (let r = 0; r < 2; r++) {
        const out = await session.run(feeds);
        results.push(session.outputNames.map((name) => out[name]!.data as Float32Array));
      }
      await session.release();
    }
    for (const other of results.slice(1)) assert.deepEqual(other, results[0]);
  });
});
