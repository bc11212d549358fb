/**
 * The server tracer's own work per request, measured in-process, apart from the noise of a shared
 * machine: requests go through the same calls the server makes (request span, queue wait, a batch
 * of `batchSize` with its instance run, the ends), and every batch of ended spans is encoded as
 * OTLP protobuf, as for the exporter, then dropped (the HTTP post to a collector is left out: one
 * per 512 records). Reported as µs of one thread per request.
 */
import { samplerSetting } from '../src/telemetry/otel-env.js';
import { OtlpEncoder } from '../src/telemetry/otlp-encode.js';
import { serveOrigin, serveTracing } from '../src/telemetry/serve-tracing.js';
import type { RequestTrace } from '../src/telemetry/types.js';

/** µs per request with `ratio` of requests sampled (parentbased_traceidratio), median of 5. */
export async function tracerWorkPerRequest(ratio: number, batchSize = 16): Promise<number> {
  const encoder = new OtlpEncoder(await serveOrigin());
  const env = {
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: String(ratio),
  };
  const tracing = await serveTracing(env, 'http/protobuf', samplerSetting(env), () => {}, {
    send: (spans, done) => {
      encoder.protobuf(spans);
      done(true);
    },
    flush: async () => {},
  });
  const headers = { host: '127.0.0.1', 'content-type': 'application/json' };
  const requests = (n: number): void => {
    let pending: RequestTrace[] = [];
    for (let i = 0; i < n; i++) {
      const r = tracing.request('http', 'light', undefined, headers);
      if (r) pending.push(r);
      if (i % batchSize !== batchSize - 1) continue;
      if (pending.length > 0) {
        for (const p of pending) p.dequeued();
        const batch = tracing.batch('light', '1', pending, batchSize);
        batch.runStarted();
        batch.runEnded(batchSize, 0.1);
        batch.end();
        for (const p of pending) p.end();
      }
      pending = [];
    }
  };
  requests(100_000);
  const n = 300_000;
  const times: number[] = [];
  for (let k = 0; k < 5; k++) {
    const t0 = performance.now();
    requests(n);
    times.push(((performance.now() - t0) * 1000) / n);
  }
  await tracing.flush();
  return times.sort((a, b) => a - b)[2]!;
}
