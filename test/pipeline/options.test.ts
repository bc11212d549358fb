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
    ['epochs', { epochs: 0 }, /options.epochs must be an integer from 1 to 100000, got 0/],
    [
      'workers',
      { workers: 'many' },
      /options.workers must be an integer from 1 to 1024, got "many"/,
    ],
    ['batchSize', { batchSize: -5 }, /options.batchSize must be an integer from 1/],
    [
      'executor',
      { executor: 'gpu' },
      /options.executor must be one of inline, threads, bullmq, got "gpu"/,
    ],
    [
      'model',
      { model: 'forest' as 'mlp' },
      /options.model must be one of auto, linear, mlp, got "forest"/,
    ],
    [
      'hidden',
      { hidden: [64, 0] },
      /options.hidden must be a comma-separated list of positive layer widths/,
    ],
    [
      'holdout',
      { holdout: 1 },
      /options.holdout must be a fraction strictly between 0 and 1, got 1/,
    ],
    [
      'learningRate',
      { learningRate: -1 },
      /options.learningRate must be a positive number, got -1/,
    ],
    [
      'onBadRow',
      { onBadRow: 'ignore' },
      /options.onBadRow must be one of error, skip, got "ignore"/,
    ],
    [
      'task',
      { task: 'ranking' },
      /options.task must be one of classification, regression, got "ranking"/,
    ],
    ['seed', { seed: 1.5 }, /options.seed must be an integer/],
    [
      'redis',
      { executor: 'bullmq' },
      /options.redis must be the URL of the queue's Redis with options.executor bullmq/,
    ],
    [
      'resume',
      { executor: 'threads', resume: 'run-1' },
      /options.resume must be the run id a bullmq run printed .* with options.executor bullmq, got "run-1"/,
    ],
    ['attempts', { attempts: 0 }, /options.attempts must be an integer from 1 to 1000, got 0/],
    [
      'keepFailedHours',
      { keepFailedHours: -1 },
      /options.keepFailedHours must be a number of hours above 0, at most a year, got -1/,
    ],
  ];
  for (const [option, options, message] of bad) {
    test(`should reject a bad options.${option} with what was expected and given, naming the option`, () => {
      assert.throws(
        () => resolveTrainingOptions(options as never),
        (err: unknown) =>
          err instanceof InvalidOptionError &&
          err.option === option &&
          message.test((err as Error).message),
      );
    });
  }
});
