/**
 * The replicas' core layout, a pure function: each replica's share of the cores as instances and
 * intra-op threads, what the user fixed left alone, and the environment a replica starts with.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describeLayout,
  layoutEnv,
  layoutFromEnv,
  replicaLayout,
} from '../../../src/serve/cluster/layout.js';

describe('replicaLayout', () => {
  test('should give each replica cores / replicas, as one instance per four cores and the rest as threads', () => {
    assert.deepEqual(replicaLayout({ cores: 8, replicas: 2, fixed: {} }), {
      instances: 1,
      intraOpThreads: 4,
    });
    assert.deepEqual(replicaLayout({ cores: 16, replicas: 1, fixed: {} }), {
      instances: 4,
      intraOpThreads: 4,
    });
    assert.deepEqual(replicaLayout({ cores: 2, replicas: 2, fixed: {} }), {
      instances: 1,
      intraOpThreads: 1,
    });
  });

  test('should keep instances x threads x replicas within the cores', () => {
    for (const cores of [1, 2, 3, 4, 8, 12, 64]) {
      for (const replicas of [1, 2, 3, 4, 8]) {
        if (replicas > cores) continue;
        const l = replicaLayout({ cores, replicas, fixed: {} });
        assert.ok(
          l.instances! * l.intraOpThreads! * replicas <= cores,
          `${cores} cores, ${replicas} replicas: ${JSON.stringify(l)}`,
        );
      }
    }
  });

  test('should give at least one instance of one thread when replicas outnumber the cores', () => {
    assert.deepEqual(replicaLayout({ cores: 2, replicas: 8, fixed: {} }), {
      instances: 1,
      intraOpThreads: 1,
    });
  });

  test("should run the autoscaler's instances per replica, with the share's threads divided between them", () => {
    assert.deepEqual(replicaLayout({ cores: 8, replicas: 2, fixed: {}, autoscalerInstances: 2 }), {
      instances: 2,
      intraOpThreads: 2,
    });
    assert.deepEqual(replicaLayout({ cores: 8, replicas: 2, fixed: {}, autoscalerInstances: 8 }), {
      instances: 8,
      intraOpThreads: 1,
    });
  });

  test('should leave what the user fixed to the user', () => {
    assert.deepEqual(replicaLayout({ cores: 8, replicas: 2, fixed: { instances: 2 } }), {
      intraOpThreads: 2,
    });
    assert.deepEqual(replicaLayout({ cores: 8, replicas: 2, fixed: { intraOpThreads: 3 } }), {
      instances: 1,
    });
    assert.deepEqual(
      replicaLayout({
        cores: 8,
        replicas: 2,
        fixed: { instances: 1, intraOpThreads: 1 },
        autoscalerInstances: 4,
      }),
      {},
    );
  });

  test('should carry a layout through the environment a replica is forked with', () => {
    const l = { instances: 3, intraOpThreads: 2 };
    assert.deepEqual(layoutEnv(l), { MLSCALE_INSTANCES: '3', MLSCALE_INTRA_OP_THREADS: '2' });
    assert.deepEqual(layoutFromEnv(layoutEnv(l)), l);
    assert.deepEqual(layoutFromEnv(layoutEnv({ intraOpThreads: 4 })), { intraOpThreads: 4 });
    assert.deepEqual(layoutFromEnv({ MLSCALE_INSTANCES: 'x', MLSCALE_INTRA_OP_THREADS: '0' }), {});
  });

  test('should describe a layout for the logs', () => {
    assert.equal(
      describeLayout({ instances: 2, intraOpThreads: 1 }),
      '2 instance(s) x 1 intra-op thread(s) each per model',
    );
    assert.equal(describeLayout({}), 'the instances given x the threads given per model');
  });
});
