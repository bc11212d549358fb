/**
 * The serve dashboard, a Fastify plugin: `GET /dashboard` (the page), `GET /dashboard/api/state`
 * (a JSON snapshot: the samples of the last minutes, batch sizes, autoscaler decisions, models,
 * whether load/unload is offered, reports), `GET /dashboard/api/events` (Server-Sent Events: one
 * `sample` event a second with what changed), `GET /dashboard/assets/<name>` and, with a reports
 * folder, `GET /dashboard/reports/<report>/<file>`.
 *
 * The page calls the server's own repository API for load and unload, with the admin token the
 * user types: the dashboard adds no way around the API's guard.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { listReports, readReportFile } from './reports.js';
import { readAsset } from './static-assets.js';
import type { ActivitySnapshot, DashboardModel, DashboardState } from './types.js';

/** Where the dashboard's data comes from. */
export interface DashboardSource {
  /** The activity after `since` (ms since the epoch; 0 for all that is kept). */
  activity(since: number): Promise<ActivitySnapshot>;
  /** The models and their readiness. */
  models(): Promise<DashboardModel[]>;
  /** Whether load/unload may be offered and whether they need the token. */
  admin(): DashboardState['admin'];
  /** Folder of `mlscale sweep` reports, if any. */
  readonly reportsDir?: string;
}

/** Time between two SSE events, in ms. */
const kEventIntervalMs = 1_000;
/** An SSE comment line this often keeps proxies from closing a quiet stream, in ms. */
const kKeepAliveMs = 15_000;

/** Registers the serve dashboard's routes. */
export async function dashboardRoutes(
  app: FastifyInstance,
  { source }: { source: DashboardSource },
): Promise<void> {
  const streams = new Set<() => void>();
  // Open event streams would hold app.close() until the grace period ends: they end first.
  app.addHook('preClose', (done) => {
    for (const end of streams) end();
    done();
  });

  app.get('/dashboard', async (_request, reply) => sendAsset(reply, 'serve.html'));
  app.get('/dashboard/', async (_request, reply) => reply.redirect('/dashboard'));
  app.get<{ Params: { name: string } }>('/dashboard/assets/:name', async (request, reply) =>
    sendAsset(reply, request.params.name),
  );

  app.get('/dashboard/api/state', async (_request, reply): Promise<DashboardState> => {
    const [activity, models] = await Promise.all([source.activity(0), source.models()]);
    const reports =
      source.reportsDir === undefined
        ? []
        : await listReports(source.reportsDir, '/dashboard/reports');
    void reply.header('cache-control', 'no-store');
    return { now: Date.now(), ...activity, models, admin: source.admin(), reports };
  });

  app.get('/dashboard/api/events', (request, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-request-id': String(request.id),
    });
    let since = Number((request.query as Record<string, unknown>)['since']) || Date.now();
    let lastWrite = Date.now();
    let ended = false;
    let sending = false;
    const tick = async (): Promise<void> => {
      if (ended || sending) return;
      sending = true;
      try {
        const [activity, models] = await Promise.all([source.activity(since), source.models()]);
        if (ended) return;
        const last = activity.samples[activity.samples.length - 1];
        if (last) since = last.t;
        res.write(
          `event: sample\ndata: ${JSON.stringify({ now: Date.now(), ...activity, models })}\n\n`,
        );
        lastWrite = Date.now();
      } catch {
        if (!ended && Date.now() - lastWrite > kKeepAliveMs) {
          res.write(': waiting\n\n');
          lastWrite = Date.now();
        }
      } finally {
        sending = false;
      }
    };
    const timer = setInterval(() => void tick(), kEventIntervalMs);
    const end = (): void => {
      if (ended) return;
      ended = true;
      clearInterval(timer);
      streams.delete(end);
      res.end();
    };
    streams.add(end);
    request.raw.once('close', end);
    res.once('error', end);
    res.write('retry: 2000\n\n');
    void tick();
  });

  if (source.reportsDir !== undefined) {
    const dir = source.reportsDir;
    app.get('/dashboard/api/reports', async () => listReports(dir, '/dashboard/reports'));
    app.get<{ Params: { report: string; file: string } }>(
      '/dashboard/reports/:report/:file',
      async (request, reply) => {
        const found = await readReportFile(dir, request.params.report, request.params.file);
        if (!found)
          return reply.code(404).send({
            error: `no report file ${request.params.report}/${request.params.file} under the reports folder`,
          });
        return reply
          .header('content-type', found.type)
          .header('x-content-type-options', 'nosniff')
          .send(found.body);
      },
    );
  }
}

/** Sends a static asset, or 404 naming it. */
export async function sendAsset(reply: FastifyReply, name: string): Promise<FastifyReply> {
  const asset = await readAsset(name);
  if (!asset)
    return reply.code(404).send({ error: `no dashboard asset named ${JSON.stringify(name)}` });
  return reply
    .header('content-type', asset.type)
    .header('cache-control', 'no-cache')
    .header('x-content-type-options', 'nosniff')
    .send(asset.body);
}
