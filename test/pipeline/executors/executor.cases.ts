/**
 * The executor conformance suite: every executor runs these cases. A skip names the case and why.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { DataValueError, ExecutorClosedError, TaskFailedError } from '../../../src/errors.js';
import type { Executor, TaskRef } from '../../../src/pipeline/executors/executor.js';
import { siblingModuleUrl } from '../../../src/util/module-url.js';

const fixtures = siblingModuleUrl(import.meta.url, '../../fixtures/tasks');
const ref = (name: string): TaskRef => ({ module: fixtures, name });

export interface ExecutorCaseOptions {
  readonly name: string;
  readonly create: () => Executor | Promise<Executor>;
  /** Case name → reason it does not apply to this executor. */
  readonly skip?: Record<string, string>;
}

export function runExecutorCases({ name, create, skip = {} }: ExecutorCaseOptions): void {
  describe(`${name} executor (conformance)`, () => {
    let executor: Executor;
    const it = (title: string, fn: () => Promise<void>) =>
      test(title, skip[title] ? { skip: `${name}: ${skip[title]}` } : {}, async () => {
        executor ??= await create();
        await fn();
      });
    after(async () => executor?.close());

    it('should return outputs in call order, whatever order they complete in', async () => {
      const calls = [40, 5, 25, 0].map((ms, i) => ({ id: i, input: { ms, value: i } }));
      const out = await executor.map<{ ms: number; value: number }, { value: number }>(
        ref('sleep'),
        calls,
      );
      assert.deepEqual(
        out.map((o) => o.value),
        [0, 1, 2, 3],
      );
    });

    it('should run a task module named by URL and export', async () => {
      const out = await executor.map<{ value: number }, { value: number }>(ref('double'), [
        { id: 0, input: { value: 21 } },
      ]);
      assert.deepEqual(out, [{ value: 42 }]);
    });

    it('should move typed arrays in and out and keep their values', async () => {
      const data = Float32Array.from([1, 2, 3, 4]);
      const out = await executor.map<
        { data: Float32Array },
        { sum: number; doubled: Float32Array }
      >(ref('sumAndDouble'), [{ id: 0, input: { data }, transfer: [data.buffer] }]);
      assert.equal(out[0]!.sum, 10);
      assert.ok(out[0]!.doubled instanceof Float32Array);
      assert.deepEqual([...out[0]!.doubled], [2, 4, 6, 8]);
    });

    it('should reject with a TaskFailedError naming the batch when a task throws', async () => {
      await assert.rejects(
        executor.map(ref('crash'), [
          { id: 0, input: {} },
          { id: 7, input: {} },
        ]),
        (err: unknown) =>
          err instanceof TaskFailedError &&
          /batch (0|7)/.test(err.message) &&
          /on purpose/.test(err.message),
      );
    });

    it('should keep the class and code of a coded error thrown by a task', async () => {
      await assert.rejects(
        executor.map(ref('crashCoded'), [{ id: 3, input: {} }]),
        (err: unknown) => err instanceof DataValueError && err.code === 'E_DATA_VALUE',
      );
    });

    it('should reject when the export does not exist', async () => {
      await assert.rejects(
        executor.map(ref('noSuchTask'), [{ id: 0, input: {} }]),
        TaskFailedError,
      );
    });

    it('should run tasks on several threads at once', async () => {
      const calls = Array.from({ length: executor.concurrency * 2 }, (_, i) => ({
        id: i,
        input: { ms: 60 },
      }));
      const out = await executor.map<{ ms: number }, { threadId: number }>(ref('spin'), calls);
      assert.equal(new Set(out.map((o) => o.threadId)).size, executor.concurrency);
    });

    it('should reject calls after close', async () => {
      const own = await create();
      await own.close();
      await assert.rejects(
        own.map(ref('double'), [{ id: 0, input: { value: 1 } }]),
        ExecutorClosedError,
      );
    });
  });
}
