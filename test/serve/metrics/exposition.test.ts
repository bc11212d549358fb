/**
 * GET /metrics passes Prometheus' own checks (`promtool check metrics` when it is installed, its
 * rules always) and keeps the standard Node.js process metrics under the server's prefix.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { ModelServer } from '../../../src/serve/server.js';
import { tempDir } from '../../helpers.js';
import {
  get,
  parseMetrics,
  smallModelBytes,
  startServer,
  writeModel,
} from '../server/server-fixture.js';
import { lintExposition } from './prometheus-lint.js';

const promtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

describe('GET /metrics exposition', () => {
  let server: ModelServer;
  let url: string;
  let cleanup: () => Promise<void>;
  let text: string;

  before(async () => {
    const tmp = await tempDir('mlscale-metrics-lint-');
    cleanup = tmp.cleanup;
    await writeModel(join(tmp.dir, 'repo'), 'm', 1, smallModelBytes(41));
    ({ server, url } = await startServer({
      modelRepository: join(tmp.dir, 'repo'),
      modelOverrides: { instances: 1 },
    }));
    const answer = await get(url, '/metrics');
    assert.equal(answer.status, 200);
    text = answer.text;
  });
  after(async () => {
    await server?.close();
    await cleanup?.();
  });

  test("should follow promtool's rules: _total on counters only, no repeated words", () => {
    assert.deepEqual(lintExposition(text), []);
  });

  test(
    'should pass promtool check metrics',
    { skip: promtool ? false : 'promtool is not installed' },
    () => {
      const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    },
  );

  test("should keep prom-client's standard process and Node.js names under the mlscale_ prefix", () => {
    const names = new Set(parseMetrics(text).map((s) => s.name));
    for (const name of [
      'mlscale_process_cpu_seconds_total',
      'mlscale_process_cpu_user_seconds_total',
      'mlscale_process_resident_memory_bytes',
      'mlscale_process_start_time_seconds',
      'mlscale_nodejs_eventloop_lag_seconds',
      'mlscale_nodejs_heap_size_used_bytes',
      'mlscale_nodejs_active_handles',
      'mlscale_nodejs_version_info',
    ])
      assert.ok(names.has(name), `${name} is exported`);
  });
});
