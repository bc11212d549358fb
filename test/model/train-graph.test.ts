import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
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
import { refGradients, refLoss } from './reference.js';

const cases: [string, ModelSpec][] = [
  ['linear classification', smallSpec('linear', 'classification')],
  ['linear regression', smallSpec('linear', 'regression')],
  ['relu mlp classification', smallSpec('mlp', 'classification', 'relu')],
  ['tanh mlp classification', smallSpec('mlp', 'classification', 'tanh')],
  ['relu mlp regression', smallSpec('mlp', 'regression', 'relu')],
  ['tanh mlp regression', smallSpec('mlp', 'regression', 'tanh', [6])],
];

describe('buildTrainStepGraph', () => {
  for (const [name, spec] of cases) {
    test(`should give the loss and finite-difference gradients of a ${name}`, async () => {
      const rng = new Prng(11);
      const rows = 7;
      const shapes = parameterShapes(spec);
      // Random biases too, so that their gradients are not checked only at zero.
      const params = initParameters(spec, 3).map((p, i) =>
        i % 2 === 1 ? randomArray(rng, p.length, 0.5) : p,
      );
      const x = randomArray(rng, rows * spec.inputs, 2);
      const y = randomTargets(rng, spec, rows);
      const out = await runOnce(
        buildTrainStepGraph(spec),
        feedsFor(spec, shapes, params, x, rows, y),
      );

      assert.deepEqual(out['loss']!.dims, []);
      assertClose(
        out['loss']!.data as Float32Array,
        [refLoss(spec, params, x, y, rows)],
        1e-6,
        1e-5,
        'loss',
      );
      const expected = refGradients(spec, params, x, y, rows);
      shapes.forEach((p, i) => {
        const grad = out[`grad_${p.name}`]!;
        assert.deepEqual(grad.dims, p.shape);
        assertClose(grad.data as Float32Array, expected[i]!, 1e-5, 1e-3, `grad_${p.name}`);
      });
    });
  }

  test('should handle a minibatch of a single row', async () => {
    const spec = smallSpec('mlp', 'classification', 'tanh');
    const rng = new Prng(5);
    const params = initParameters(spec, 1);
    const x = randomArray(rng, spec.inputs);
    const y = randomTargets(rng, spec, 1);
    const out = await runOnce(
      buildTrainStepGraph(spec),
      feedsFor(spec, parameterShapes(spec), params, x, 1, y),
    );
    assertClose(
      out['loss']!.data as Float32Array,
      [refLoss(spec, params, x, y, 1)],
      1e-6,
      1e-5,
      'loss',
    );
  });

  test('should serialize to the same bytes every time', () => {
    const spec = smallSpec('mlp', 'regression', 'relu');
    assert.deepEqual(buildTrainStepGraph(spec), buildTrainStepGraph({ ...spec }));
  });
});
