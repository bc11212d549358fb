import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidOptionError } from '../../src/errors.js';
import { kDefaultTrainingOptions, resolveTrainingOptions } from '../../src/pipeline/options.js';

describe('resolveTrainingOptions', () => {
  test('should fill defaults and freeze the result', () => {
    const o = resolveTrainingOptions({ data: 'sample:digits' });
    assert.equal(o.batchSize, kDefaultTrainingOptions.batchSize);
    assert.ok(Object.isFrozen(o));
  });

  const bad: [string, object, RegExp][] = [
    ['--epochs', { epochs: 0 }, /--epochs must be an integer from 1 to 100000, got 0/],
    ['--workers', { workers: 'many' }, /--workers must be an integer from 1 to 1024, got "many"/],
    ['--batch-size', { batchSize: -5 }, /--batch-size must be an integer from 1/],
    ['--executor', { executor: 'gpu' }, /--executor must be one of inline, threads, bullmq, got "gpu"/],
    ['--model', { model: 'forest' as 'mlp' }, /--model must be one of auto, linear, mlp, got "forest"/],
    ['--hidden', { hidden: [64, 0] }, /--hidden must be a comma-separated list of positive layer widths/],
    ['--holdout', { holdout: 1 }, /--holdout must be a fraction strictly between 0 and 1, got 1/],
    ['--learning-rate', { learningRate: -1 }, /--learning-rate must be a positive number, got -1/],
    ['--on-bad-row', { onBadRow: 'ignore' }, /--on-bad-row must be one of error, skip, got "ignore"/],
    ['--task', { task: 'ranking' }, /--task must be one of classification, regression, got "ranking"/],
    ['--seed', { seed: 1.5 }, /--seed must be an integer/],
    ['--redis', { executor: 'bullmq' }, /--redis must be the URL of the queue's Redis with --executor bullmq/],
    ['--resume', { executor: 'threads', resume: 'run-1' }, /--resume must be the run id a bullmq run printed .* with --executor bullmq, got "run-1"/],
    ['--attempts', { attempts: 0 }, /--attempts must be an integer from 1 to 1000, got 0/],
    ['--keep-failed-hours', { keepFailedHours: -1 }, /--keep-failed-hours must be a number of hours above 0, at most a year, got -1/],
  ];
  for (const [flag, options, message] of bad) {
    test(`should reject a bad ${flag} with what was expected and given`, () => {
      assert.throws(() => resolveTrainingOptions(options as never), (err: unknown) => err instanceof InvalidOptionError && message.test((err as Error).message));
    });
  }
});
