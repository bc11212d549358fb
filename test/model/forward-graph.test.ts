import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildForwardGraph } from '../../src/model/forward-graph.js';
import { initParameters, parameterShapes } from '../../src/model/parameters.js';
import { Prng } from '../../src/model/prng.js';
import type { ModelSpec } from '../../src/model/spec.js';
import { buildTrainStepGraph } from '../../src/model/train-graph.js';
import {
  assertClose,
  feedsFor,
  randomArray,
  randomTargets,
  runOnce,
  smallSpec,
} from './helpers.js';
import { lossFromOutput, refForwardOutput } from './reference.js';

const cases: [string, ModelSpec][] = [
  ['relu mlp classification', smallSpec('mlp', 'classification', 'relu')],
  ['tanh mlp regression', smallSpec('mlp', 'regression', 'tanh')],
  ['linear classification', smallSpec('linear', 'classification')],
];

describe('buildForwardGraph', () => {
  for (const [name, spec] of cases) {
    test(`should agree with the train graph and the reference for a ${name}`, async () => {
      const rng = new Prng(21);
      const rows = 9;
      const shapes = parameterShapes(spec);
      const params = initParameters(spec, 8).map((p, i) =>
        i % 2 === 1 ? randomArray(rng, p.length, 0.3) : p,
      );
      const x = randomArray(rng, rows * spec.inputs, 2);
      const y = randomTargets(rng, spec, rows);

      const forward = await runOnce(
        buildForwardGraph(spec),
        feedsFor(spec, shapes, params, x, rows),
      );
      const output = forward['output']!;
      assert.deepEqual(output.dims, [rows, spec.outputs]);
      const values = output.data as Float32Array;
      assertClose(values, refForwardOutput(spec, params, x, rows).data, 1e-6, 1e-5, 'output');

      const train = await runOnce(
        buildTrainStepGraph(spec),
        feedsFor(spec, shapes, params, x, rows, y),
      );
      const trainLoss = (train['loss']!.data as Float32Array)[0]!;
      assertClose(
        [lossFromOutput(spec, values, y, rows)],
        [trainLoss],
        1e-6,
        1e-5,
        'loss from forward output',
      );
    });
  }

  test('should output probabilities that sum to one per row', async () => {
    const spec = smallSpec('mlp', 'classification', 'tanh');
    const rng = new Prng(2);
    const params = initParameters(spec, 2);
    const x = randomArray(rng, 5 * spec.inputs, 3);
    const out = await runOnce(
      buildForwardGraph(spec),
      feedsFor(spec, parameterShapes(spec), params, x, 5),
    );
    const p = out['output']!.data as Float32Array;
    for (let r = 0; r < 5; r++)
      assert.ok(Math.abs(p[3 * r]! + p[3 * r + 1]! + p[3 * r + 2]! - 1) < 1e-6);
  });
});
