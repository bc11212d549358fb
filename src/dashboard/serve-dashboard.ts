/**
 * The live dashboard as a model server plugin, which `mlscale serve` registers: the data source
 * over the server's repository and metrics (a local sampler, or in a replica the primary's fleet
 * view through `askPrimary`, see fleet.ts), and the routes.
 *
 * @module
 */
import type { FilledServeOptions } from '../serve/options.js';
import type { ServerPlugin } from '../serve/plugins.js';
import type { ModelRepository } from '../serve/repository.js';
import { invalidOption } from '../util/options.js';
import { kFleetTopic, type FleetRequest } from './fleet.js';
import { dashboardRoutes, type DashboardSource } from './routes.js';
import { MetricsSampler } from './sampler.js';
import type { ActivitySnapshot, DashboardModel, DashboardState } from './types.js';

/** Options of the serve dashboard. */
export interface ServeDashboardOptions {
  /** A folder of `mlscale sweep` reports that the dashboard links to and serves read-only. */
  readonly reports?: string;
}

/**
 * The dashboard at GET /dashboard (the page, its JSON API and event stream) as a server plugin.
 * @throws {InvalidOptionError} when `options.reports` is not a folder path.
 * @example
 * const server = await createModelServer({ modelRepository: 'models' }, { plugins: [serveDashboard()] });
 */
export function serveDashboard(options: ServeDashboardOptions = {}): ServerPlugin {
  const reports = options.reports;
  if (reports !== undefined && (typeof reports !== 'string' || reports === ''))
    invalidOption('reports', 'a folder', reports);
  let sampler: MetricsSampler | undefined;
  return {
    name: 'dashboard',
    async register(app, server) {
      const { repository, metrics } = server;
      let activity: (since: number) => Promise<ActivitySnapshot>;
      const askPrimary = server.askPrimary;
      if (askPrimary) {
        // A replica: the fleet's activity lives in the primary.
        activity = (since) =>
          askPrimary(kFleetTopic, { since } satisfies FleetRequest).then(
            (a) => a as ActivitySnapshot,
          );
      } else {
        const local = new MetricsSampler({
          collect: async () => {
            // Gauges that are read, not counted, are set just before a reading, as for a scrape.
            for (const model of repository.models()) model.refreshGauges();
            return metrics.registry.getMetricsAsJSON();
          },
        }).start();
        sampler = local;
        activity = async (since) => local.snapshot(since);
      }
      const source: DashboardSource = {
        activity,
        models: async () => listModels(repository),
        admin: () => adminState(server.options, server.loopback),
        ...(reports !== undefined ? { reportsDir: reports } : {}),
      };
      await app.register(dashboardRoutes, { source });
    },
    onDrain() {
      sampler?.stop();
    },
  };
}

/** Loaded versions with their state, and the models on disk that are not loaded. */
async function listModels(repository: ModelRepository): Promise<DashboardModel[]> {
  const out: DashboardModel[] = repository
    .index()
    .map((e) => ({ name: e.name, version: e.version ?? null, state: e.state, reason: e.reason }));
  const known = new Set(out.map((m) => m.name));
  for (const name of await repository.scan().catch(() => [])) {
    if (!known.has(name))
      out.push({ name, version: null, state: 'UNAVAILABLE', reason: 'unloaded' });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Mirrors the repository API's guard (serve/routes/repository.ts), so the page offers only what would work. */
function adminState(
  options: Readonly<FilledServeOptions>,
  loopback: boolean,
): DashboardState['admin'] {
  if (!options.repositoryApi)
    return {
      enabled: false,
      tokenRequired: false,
      why: 'the repository API is turned off (--no-repository-api)',
    };
  if (options.adminToken !== undefined) return { enabled: true, tokenRequired: true };
  if (loopback) return { enabled: true, tokenRequired: false };
  return {
    enabled: false,
    tokenRequired: false,
    why: `the repository API needs --admin-token on ${options.host}`,
  };
}
