import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidOptionError } from '../../../../src/errors.js';
import { ThreadsExecutor } from '../../../../src/pipeline/executors/threads/threads-executor.js';
import { createExecutor } from '../../../../src/pipeline/executors/index.js';
import { runExecutorCases } from '../executor.cases.js';

runExecutorCases({ name: 'threads', create: () => new ThreadsExecutor({ workers: 2 }) });

describe('ThreadsExecutor options', () => {
  test('should reject a worker count that is not a positive integer', () => {
    for (const workers of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => new ThreadsExecutor({ workers }),
        (err: unknown) =>
          err instanceof InvalidOptionError &&
          /workers must be a positive integer/.test((err as Error).message),
      );
    }
  });

  test('should name the accepted kinds for an unknown executor', () => {
    assert.throws(
      () => createExecutor('gpu'),
      /--executor must be one of inline, threads, bullmq, got "gpu"/,
    );
  });
});
