/**
 * A collector that is down costs the server nothing but the spans: with the OTLP endpoint on a
 * loopback port where nothing listens, every request is still answered, the failed exports are
 * counted in `/metrics`, and the server closes without waiting past the export timeout.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Prng } from '../../src/model/prng.js';
import { infer, inferBody, randomInput } from '../serve/server/server-fixture.js';
import { startTracedServer, type TracedServer } from './traced-server.js';

/** A loopback port nobody listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('serve tracing with the collector down', () => {
  let traced: TracedServer;

  before(async () => {
    traced = await startTracedServer(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
        OTEL_EXPORTER_OTLP_TIMEOUT: '500',
        OTEL_BSP_SCHEDULE_DELAY: '10',
      },
      { maxQueueDelayMs: 5 },
    );
  });

  after(async () => traced?.close());

  test('every request is answered and the failed exports are counted', async () => {
    for (let i = 0; i < 5; i++) {
      const answer = await infer(traced.url, 'm', inferBody(randomInput(new Prng(i), 1)));
      assert.equal(answer.status, 200, answer.text);
    }
    // The export fails (connection refused, retried until its timeout): poll the counter.
    let failed = 0;
    for (let tries = 0; tries < 200 && failed === 0; tries++) {
      const text = await (await fetch(`${traced.url}/metrics`)).text();
      failed = Number(/^mlscale_trace_exports_failed_total (\d+)/m.exec(text)?.[1] ?? 0);
      if (failed === 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(failed >= 1, 'a failed export is counted');
    const again = await infer(traced.url, 'm', inferBody(randomInput(new Prng(9), 1)));
    assert.equal(again.status, 200, 'the server still answers');
  });
});
