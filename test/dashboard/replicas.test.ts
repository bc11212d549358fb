/**
 * The serve dashboard with replicas: whichever replica answers, the snapshot is the primary's fleet
 * view — every replica's requests merged, and the replicas listening.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Prng } from '../../src/model/prng.js';
import type { DashboardState } from '../../src/dashboard/types.js';
import { tempDir } from '../helpers.js';
import { serveProcess, stopServed, type Served } from '../serve/serve-process.js';
import {
  inferBody,
  randomInput,
  smallModelBytes,
  writeModel,
} from '../serve/server/server-fixture.js';

describe('serve dashboard with replicas', () => {
  let served: Served;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-dashboard-replicas-');
    cleanup = tmp.cleanup;
    await writeModel(join(tmp.dir, 'repo'), 'm', 1, smallModelBytes(11));
    served = await serveProcess(
      [
        '--model-repository',
        join(tmp.dir, 'repo'),
        '--port',
        '0',
        '--replicas',
        '2',
        '--spare-replicas',
        '0',
        '--instances',
        '1',
        '--unready-delay-ms',
        '0',
      ],
      {
        timeoutMs: 60_000,
      },
    );
  });
  after(async () => {
    await stopServed(served);
    await cleanup?.();
  });

  test('should show the whole fleet: replicas listening and the requests of every replica', async () => {
    const body = JSON.stringify(inferBody(randomInput(new Prng(2), 1)));
    const deadline = Date.now() + 30_000;
    let state: DashboardState | undefined;
    // Both replicas listen soon after the first; requests go on until a sample has seen them.
    while (Date.now() < deadline) {
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${served.url}/v2/models/m/infer`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json', connection: 'close' },
        });
        await res.arrayBuffer();
      }
      state = (await (await fetch(`${served.url}/dashboard/api/state`)).json()) as DashboardState;
      const last = state.samples[state.samples.length - 1];
      if (last && last.replicas === 2 && state.samples.some((s) => s.rps > 0)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(state, 'a snapshot');
    assert.equal(state.mode, 'replicas');
    const last = state.samples[state.samples.length - 1]!;
    assert.equal(last.replicas, 2, JSON.stringify(state.samples.slice(-3)));
    assert.equal(last.instances, 2, 'one instance in each replica');
    assert.ok(state.samples.some((s) => s.rps > 0));
    assert.deepEqual(
      state.models.map((m) => [m.name, m.state]),
      [['m', 'READY']],
    );
  });
});

describe('serve dashboard with the autoscaler', () => {
  let served: Served;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-dashboard-autoscale-');
    cleanup = tmp.cleanup;
    await writeModel(join(tmp.dir, 'repo'), 'm', 1, smallModelBytes(12));
    served = await serveProcess(
      [
        '--model-repository',
        join(tmp.dir, 'repo'),
        '--port',
        '0',
        '--replicas',
        'auto',
        '--min-replicas',
        '1',
        '--max-replicas',
        '2',
        '--target-ongoing-requests',
        '1',
        '--upscale-delay-ms',
        '0',
        '--smoothing-window-ms',
        '1000',
        '--spare-replicas',
        '0',
        '--instances',
        '1',
        '--unready-delay-ms',
        '0',
      ],
      { timeoutMs: 60_000 },
    );
  });
  after(async () => {
    await stopServed(served);
    await cleanup?.();
  });

  test("should list the autoscaler's decision with its signal, from and to", async () => {
    const body = JSON.stringify(inferBody(randomInput(new Prng(3), 4)));
    let running = true;
    // A bounded closed loop (8 connections against a target of 1 ongoing request per replica).
    const deadline = Date.now() + 30_000;
    const loops = Array.from({ length: 8 }, async () => {
      while (running && Date.now() < deadline) {
        const res = await fetch(`${served.url}/v2/models/m/infer`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
        }).catch(() => undefined);
        await res?.arrayBuffer();
      }
    });
    let state: DashboardState | undefined;
    try {
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        state = (await (await fetch(`${served.url}/dashboard/api/state`)).json()) as DashboardState;
        if (state.decisions.length > 0) break;
      }
    } finally {
      running = false;
      await Promise.all(loops);
    }
    const decision = state?.decisions[0];
    assert.ok(
      decision,
      `a decision within 30 s; logs: ${JSON.stringify(served.logs.filter((l) => String(l['msg']).startsWith('autoscaler')).slice(-3))}`,
    );
    assert.match(decision.action, /scale-up/);
    assert.deepEqual(decision.from, { replicas: 1, instancesPerReplica: 1 });
    assert.equal(decision.to.replicas, 2);
    assert.match(
      decision.signal,
      /^ongoing \d+\.\d \(\d+\.\d per replica\), queue \d+, CPU idle \d+%$/,
    );
    assert.ok(decision.reason.length > 0);
  });
});
