/**
 * A `mlscale serve` with one small model ('m') whose traces go over OTLP/HTTP (JSON) to a receiver
 * started here on loopback, as the OTEL_* variables of `env` ask (read when the server starts).
 */
import type { ModelServer } from '../../src/serve/server.js';
import { tempDir } from '../helpers.js';
import { smallModelBytes, startServer, writeModel } from '../serve/server/server-fixture.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

/** The running server and receiver; `close` stops both, removes the model and the variables. */
export interface TracedServer {
  readonly receiver: OtlpReceiver;
  readonly server: ModelServer;
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the receiver, sets `env` (and the OTLP endpoint) in process.env, then the server. */
export async function startTracedServer(
  env: Record<string, string>,
  options: { readonly maxQueueDelayMs: number; readonly grpcPort?: number },
): Promise<TracedServer> {
  const receiver = await startOtlpReceiver();
  const vars = {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    ...env,
  };
  Object.assign(process.env, vars);
  const tmp = await tempDir('mlscale-tracing-');
  await writeModel(tmp.dir, 'm', 1, smallModelBytes(7));
  const { server, url } = await startServer({
    modelRepository: tmp.dir,
    ...(options.grpcPort !== undefined ? { grpcPort: options.grpcPort } : {}),
    modelOverrides: { instances: 1, maxQueueDelayMs: options.maxQueueDelayMs, maxBatchSize: 64 },
  });
  return {
    receiver,
    server,
    url,
    async close() {
      await server.close();
      await receiver.close();
      await tmp.cleanup();
      for (const k of Object.keys(vars)) delete process.env[k];
    },
  };
}
