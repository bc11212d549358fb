import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodePayload,
  encodePayload,
  kInlinePayloadBytes,
} from '../../../../src/pipeline/executors/bullmq/protocol.js';
import { TaskThreads } from '../../../../src/pipeline/executors/threads/task-threads.js';
import type { TaskEnvelope } from '../../../../src/pipeline/executors/task-envelope.js';
import { siblingModuleUrl } from '../../../../src/util/module-url.js';

const entry = new URL(
  siblingModuleUrl(import.meta.url, '../../../../src/pipeline/executors/threads/thread-entry'),
);
const fixtures = siblingModuleUrl(import.meta.url, '../../../fixtures/tasks');

/** Runs one packed call and gives its envelope. */
async function runPacked(
  pool: TaskThreads,
  name: string,
  input: unknown,
  shared?: { key: string; bytes: Uint8Array },
): Promise<TaskEnvelope<unknown>> {
  const envelopes = (await pool.run({
    task: { module: fixtures, name },
    inputs: [encodePayload(input).toString('base64')],
    packed: true,
    shared,
  })) as TaskEnvelope<unknown>[];
  return envelopes[0]!;
}

/** The value of a successful envelope. */
function valueOf(envelope: TaskEnvelope<unknown>): unknown {
  assert.ok(envelope.ok, 'the call should succeed');
  return envelope.value;
}

/** Unpacks a small output, which comes back as base64 text. */
function unpackText(envelope: TaskEnvelope<unknown>): unknown {
  const value = valueOf(envelope);
  assert.equal(typeof value, 'string');
  return decodePayload(Buffer.from(value as string, 'base64'));
}

describe('TaskThreads (mlscale worker threads)', () => {
  const pool = new TaskThreads(1, entry);
  after(() => pool.destroy());

  test('should answer a small packed output as base64 text', async () => {
    assert.deepEqual(unpackText(await runPacked(pool, 'double', { value: 21 })), { value: 42 });
  });

  test('should answer a packed output above the inline size as bytes', async () => {
    const data = new Float32Array(kInlinePayloadBytes / 4 + 1).fill(1.5);
    const value = valueOf(await runPacked(pool, 'sumAndDouble', { data }));
    assert.ok(value instanceof Uint8Array);
    const out = decodePayload<{ sum: number; doubled: Float32Array }>(value);
    assert.equal(out.sum, 1.5 * data.length);
    assert.deepEqual([...out.doubled.subarray(0, 3)], [3, 3, 3]);
  });

  test("should merge a round's shared input under each call, sent once or again", async () => {
    const shared = { key: 'run-a:1.0', bytes: encodePayload({ value: 5, note: 'shared' }) };
    // The second call goes without the bytes (the thread has them); both see the shared part.
    const [a, b] = await Promise.all([
      runPacked(pool, 'double', {}, shared),
      runPacked(pool, 'double', { value: 7 }, shared),
    ]);
    assert.deepEqual(unpackText(a), { value: 10 });
    assert.deepEqual(unpackText(b), { value: 14 });
  });

  test('should report bad shared bytes on every call instead of waiting forever', async () => {
    // A truncated msgpack array: the thread cannot unpack it, so it holds nothing for the key: the next call, sent
    // without the bytes, is sent again with them, and fails the same way.
    const shared = { key: 'run-b:1.0', bytes: Uint8Array.of(0x92) };
    for (let i = 0; i < 2; i++) {
      const envelope = await runPacked(pool, 'double', { value: 1 }, shared);
      assert.equal(envelope.ok, false);
    }
  });
});

describe('TaskThreads: trivial stages on the calling thread', () => {
  /** Runs `spin` with `ms` until `until` holds or `limit` calls; gives the last call's thread id. */
  async function spinUntil(
    pool: TaskThreads,
    ms: number,
    until: () => boolean,
    limit: number,
  ): Promise<number> {
    let threadId = -1;
    for (let i = 0; i < limit && !until(); i++)
      threadId = (unpackText(await runPacked(pool, 'spin', { ms })) as { threadId: number })
        .threadId;
    return threadId;
  }

  test('should move a stage that keeps running in microseconds to the calling thread, with the same answers', async () => {
    const pool = new TaskThreads(1, entry);
    try {
      // The threshold counts runs in a row: a busy machine may break a streak now and then.
      await spinUntil(pool, 0, () => pool.inlineRuns > 0, 5000);
      assert.ok(pool.inlineRuns > 0, 'the stage never moved to the calling thread');
      assert.equal(
        (unpackText(await runPacked(pool, 'spin', { ms: 0 })) as { threadId: number }).threadId,
        0,
        'runs on the main thread',
      );
      assert.deepEqual(
        unpackText(await runPacked(pool, 'double', { value: 4 })),
        { value: 8 },
        'another stage keeps its own record',
      );
    } finally {
      await pool.destroy();
    }
  });

  test('should send a stage back to the threads for good after one slow run on the calling thread, and say so', async () => {
    const lines: string[] = [];
    const pool = new TaskThreads(1, entry, { onStageMoved: (line) => lines.push(line) });
    try {
      await spinUntil(pool, 0, () => pool.inlineRuns > 0, 5000);
      const before = pool.inlineRuns;
      // Now heavy: this run blocks the calling thread once (30 ms), then the stage leaves it.
      assert.equal(
        (unpackText(await runPacked(pool, 'spin', { ms: 30 })) as { threadId: number }).threadId,
        0,
      );
      for (let i = 0; i < 200; i++) {
        const { threadId } = unpackText(await runPacked(pool, 'spin', { ms: 0 })) as {
          threadId: number;
        };
        assert.ok(threadId > 0, `call ${i} after the slow run ran on the calling thread`);
      }
      assert.equal(pool.inlineRuns, before + 1);
      assert.equal(lines.length, 2, lines.join('\n'));
      assert.match(
        lines[0]!,
        /^stage .*tasks\.js#spin ran 64 batches in a row in under 1 ms each on a thread: it runs on the main thread from now on$/,
      );
      assert.match(
        lines[1]!,
        /^stage .*tasks\.js#spin took \d+ ms on the main thread: it runs on the threads for good$/,
      );
    } finally {
      await pool.destroy();
    }
  });

  test('should keep every stage on the threads with inlineFastStages false', async () => {
    const pool = new TaskThreads(1, entry, { inlineFastStages: false });
    try {
      const threadId = await spinUntil(pool, 0, () => false, 300);
      assert.ok(threadId > 0);
      assert.equal(pool.inlineRuns, 0);
    } finally {
      await pool.destroy();
    }
  });
});
