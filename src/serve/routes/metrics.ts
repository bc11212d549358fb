/**
 * `GET /metrics`: Prometheus text format from the server's prom-client registry.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../server-context.js';

export async function metricsRoutes(
  app: FastifyInstance,
  { context }: { context: ServerContext },
): Promise<void> {
  app.get('/metrics', async (_request, reply) => {
    if (context.metricsText)
      return reply
        .header('content-type', context.metrics.registry.contentType)
        .send(await context.metricsText());
    // Gauges that are read, not counted, are set just before the scrape.
    for (const model of context.repository.models()) model.refreshGauges();
    const text = await context.metrics.registry.metrics();
    return reply.header('content-type', context.metrics.registry.contentType).send(text);
  });
}
