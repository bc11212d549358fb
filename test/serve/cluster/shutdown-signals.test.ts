/**
 * SIGTERM/SIGINT as a server reads them: the first drains, every later one cuts the drain; the
 * handlers come off when asked. Signals come from an emitter, so no process is signalled.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { onShutdownSignals, type ShutdownRequest } from '../../../src/serve/shutdown-signals.js';

function fakeProcess(): EventEmitter & Pick<NodeJS.Process, 'on' | 'off'> {
  return new EventEmitter() as EventEmitter & Pick<NodeJS.Process, 'on' | 'off'>;
}

describe('onShutdownSignals', () => {
  test('should ask for a drain on the first signal and to cut it on each later one', () => {
    const target = fakeProcess();
    const seen: ShutdownRequest[] = [];
    onShutdownSignals((r) => seen.push(r), target);
    target.emit('SIGTERM', 'SIGTERM');
    target.emit('SIGINT', 'SIGINT');
    target.emit('SIGTERM', 'SIGTERM');
    assert.deepEqual(seen, [
      { signal: 'SIGTERM', now: false, count: 1 },
      { signal: 'SIGINT', now: true, count: 2 },
      { signal: 'SIGTERM', now: true, count: 3 },
    ]);
  });

  test('should listen to SIGTERM and SIGINT only, and let go when asked', () => {
    const target = fakeProcess();
    let calls = 0;
    const off = onShutdownSignals(() => calls++, target);
    assert.equal(target.listenerCount('SIGTERM'), 1);
    assert.equal(target.listenerCount('SIGINT'), 1);
    assert.equal(target.listenerCount('SIGHUP'), 0);
    off();
    assert.equal(target.listenerCount('SIGTERM') + target.listenerCount('SIGINT'), 0);
    target.emit('SIGTERM', 'SIGTERM');
    assert.equal(calls, 0);
  });
});
