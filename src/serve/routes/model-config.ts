/**
 * Triton's model configuration extension: `GET /v2/models/{m}[/versions/{v}]/config` answers the
 * model's `ModelConfig` as JSON (see triton/config-json.ts), which Triton's clients
 * (`get_model_config`), perf_analyzer and model_analyzer ask for before anything else.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../server-context.js';
import { tritonModelConfig } from '../triton/config-json.js';

interface ModelParams {
  name: string;
  version?: string;
}

export async function modelConfigRoutes(
  app: FastifyInstance,
  { context }: { context: ServerContext },
): Promise<void> {
  for (const base of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    app.get<{ Params: ModelParams }>(`${base}/config`, async (request) =>
      tritonModelConfig(context.repository.get(request.params.name, request.params.version)),
    );
  }
}
