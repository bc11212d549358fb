/**
 * The one IPC request/answer helper: two peers wired to each other through an asynchronous fake
 * channel (as process.send delivers on a later turn). Answers reach their requests, a missing
 * answer times out, a peer's death rejects what waits at once, and errors travel back.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IpcRequests, type IpcAnswer, type IpcAsk } from '../../src/util/ipc-request.js';

/** Two peers; after `cut()` every send throws, as on a closed channel. */
function pair(timeoutMs = 1_000): {
  primary: IpcRequests;
  replica: IpcRequests;
  sent: (IpcAsk | IpcAnswer)[];
  cut(): void;
} {
  let open = true;
  const sent: (IpcAsk | IpcAnswer)[] = [];
  let primary: IpcRequests;
  const replica = new IpcRequests(
    (m) => {
      if (!open) throw new Error('channel closed');
      setImmediate(() => primary.receive(m));
    },
    { peer: 'the primary', timeoutMs },
  );
  primary = new IpcRequests(
    (m) => {
      if (!open) throw new Error('channel closed');
      sent.push(m);
      setImmediate(() => replica.receive(m));
    },
    { peer: 'replica 1', timeoutMs },
  );
  return { primary, replica, sent, cut: () => (open = false) };
}

describe('IpcRequests', () => {
  test('should answer a request with the handler of its topic, sync or async', async () => {
    const { primary, replica } = pair();
    replica.handle('double', (body) => (body as number) * 2);
    replica.handle('later', async () => 'done');
    assert.equal(await primary.request<number>('double', 21), 42);
    assert.equal(await primary.request<string>('later'), 'done');
    assert.equal(primary.pending, 0);
  });

  test('should match concurrent answers to their requests by id', async () => {
    const { primary, replica } = pair();
    replica.handle('echo', async (body) => {
      await new Promise((r) => setTimeout(r, (body as number) === 1 ? 20 : 0));
      return body;
    });
    assert.deepEqual(
      await Promise.all([1, 2, 3].map((n) => primary.request('echo', n))),
      [1, 2, 3],
    );
  });

  test("should reject with the peer's error when its handler throws, or no handler has the topic", async () => {
    const { primary, replica } = pair();
    replica.handle('fail', () => {
      throw new Error('no metrics yet');
    });
    await assert.rejects(
      primary.request('fail'),
      /replica 1 could not answer the fail request: no metrics yet/,
    );
    await assert.rejects(
      primary.request('nobody'),
      /replica 1 could not answer the nobody request: nothing answers "nobody" here/,
    );
  });

  test('should reject when no answer comes in time', async () => {
    // The peer never receives: nothing answers.
    const lonely = new IpcRequests(() => undefined, { peer: 'replica 9', timeoutMs: 50 });
    await assert.rejects(
      lonely.request('collect'),
      /replica 9 did not answer the collect request within 50 ms/,
    );
    await assert.rejects(
      lonely.request('sample', undefined, 10),
      /replica 9 did not answer the sample request within 10 ms/,
    );
    assert.equal(lonely.pending, 0);
  });

  test('should reject what waits at once when the peer goes away, and later requests without sending', async () => {
    const sent: unknown[] = [];
    const primary = new IpcRequests((m) => sent.push(m), { peer: 'replica 2', timeoutMs: 60_000 });
    const waiting = primary.request('collect');
    const started = Date.now();
    primary.close('it exited with SIGKILL');
    await assert.rejects(
      waiting,
      /replica 2 went away before answering the collect request \(it exited with SIGKILL\)/,
    );
    assert.ok(Date.now() - started < 1_000, 'rejected at once, not after the timeout');
    await assert.rejects(
      primary.request('sample'),
      /replica 2 is gone \(it exited with SIGKILL\); the sample request was not sent/,
    );
    assert.equal(sent.length, 1);
  });

  test('should reject when the message cannot be sent', async () => {
    const { primary, cut } = pair();
    cut();
    await assert.rejects(
      primary.request('collect'),
      /cannot send the collect request to replica 1: channel closed/,
    );
    assert.equal(primary.pending, 0);
  });

  test('should leave messages that are not requests or answers to the caller', () => {
    const { primary } = pair();
    assert.equal(primary.receive({ mlscale: 'loaded' }), false);
    assert.equal(primary.receive('hello'), false);
    assert.equal(primary.receive(null), false);
    assert.equal(
      primary.receive({ mlscale: 'answer', id: 999, body: 1 }),
      true,
      'an answer nobody waits for is still ours, and dropped',
    );
  });

  test('should refuse a second handler for a topic', () => {
    const { replica } = pair();
    replica.handle('collect', () => 1);
    assert.throws(() => replica.handle('collect', () => 2), RangeError);
  });
});
