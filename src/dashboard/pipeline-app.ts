/**
 * `mlscale dashboard`: a small web server for pipeline runs and scaling reports. `GET /` is the
 * page; `GET /api/runs` lists the local runs folder's finished runs (and, with Redis, the bullmq
 * runs in progress); `GET /api/runs/<id>` is one run; `GET /api/reports` lists the reports, served
 * read-only under `/reports/<report>/<file>`.
 *
 * @module
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { RedisRuns } from './redis-runs.js';
import { listReports, readReportFile } from './reports.js';
import { sendAsset } from './routes.js';
import { kRunId, listLocalRuns, readLocalRun, type RunSummary } from './runs.js';

/** What the pipeline dashboard shows. */
export interface PipelineDashboardOptions {
  /** Folder of run artifacts: `<runs>/<name>/metadata.json`. */
  readonly runs: string;
  /** Folder of `mlscale sweep` reports. */
  readonly reports: string;
  /** Distributed runs in progress, when a Redis was given. */
  readonly redisRuns?: RedisRuns;
}

/** Builds the pipeline dashboard's Fastify app (not listening). */
export async function createPipelineDashboard(
  options: PipelineDashboardOptions,
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({
      error: `no route ${request.method} ${request.url.split('?')[0]}; the page is at / and the API under /api`,
    });
  });
  app.get('/', async (_request, reply) => sendAsset(reply, 'runs.html'));
  app.get<{ Params: { name: string } }>('/dashboard/assets/:name', async (request, reply) =>
    sendAsset(reply, request.params.name),
  );

  app.get('/api/runs', async (_request, reply) => {
    const local = await listLocalRuns(options.runs);
    let remote: RunSummary[] = [];
    let redisError: string | undefined;
    if (options.redisRuns) {
      try {
        remote = await options.redisRuns.list();
      } catch (err) {
        redisError = `cannot read the bullmq runs from Redis: ${(err as Error).message}`;
      }
    }
    void reply.header('cache-control', 'no-store');
    return {
      runsFolder: options.runs,
      redis: options.redisRuns !== undefined,
      ...(redisError ? { redisError } : {}),
      runs: [...remote, ...local],
    };
  });

  app.get<{ Params: { id: string } }>('/api/runs/:id', async (request, reply) => {
    const { id } = request.params;
    if (!kRunId.test(id))
      return reply.code(404).send({
        error: `run ids are folder names (letters, digits, '_', '-', '.'), got ${JSON.stringify(id)}`,
      });
    const run = await readLocalRun(options.runs, id);
    if (!run) {
      const live = options.redisRuns
        ? (await options.redisRuns.list().catch(() => [])).find((r) => r.id === id)
        : undefined;
      if (live)
        return {
          ...live,
          metrics: {},
          phases: null,
          stages: null,
          windows: [],
          epochLoss: [],
          data: null,
        };
      return reply.code(404).send({
        // Relative to the runs folder: a visitor is not told where the machine keeps it.
        error: `no run ${JSON.stringify(id)}: ${id}/metadata.json in the runs folder does not exist or cannot be read`,
      });
    }
    return run;
  });

  app.get('/api/reports', async () => listReports(options.reports, '/reports'));
  app.get<{ Params: { report: string; file: string } }>(
    '/reports/:report/:file',
    async (request, reply) => {
      const found = await readReportFile(
        options.reports,
        request.params.report,
        request.params.file,
      );
      if (!found)
        return reply.code(404).send({
          error: `no report file ${request.params.report}/${request.params.file} in the reports folder`,
        });
      return reply
        .header('content-type', found.type)
        .header('x-content-type-options', 'nosniff')
        .send(found.body);
    },
  );
  app.addHook('onClose', async () => options.redisRuns?.close());
  return app;
}
