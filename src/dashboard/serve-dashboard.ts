/**
 * Wires the dashboard into a model server: the data source over the server's repository and
 * metrics (a local sampler, or the primary's fleet sampler through `activity` for a replica),
 * and the routes.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { ServeOptions } from '../serve/options.js';
import type { ModelRepository } from '../serve/repository.js';
import type { ServerMetrics } from '../serve/metrics.js';
import { dashboardRoutes, type DashboardSource } from './routes.js';
import { MetricsSampler } from './sampler.js';
import type { ActivitySnapshot, DashboardModel, DashboardState } from './types.js';

/** What the dashboard reads from the server it is part of. */
export interface ServeDashboardParts {
  readonly options: Readonly<ServeOptions>;
  readonly repository: ModelRepository;
  readonly metrics: ServerMetrics;
  /** Whether the server listens on a loopback address only (the repository API's guard needs it). */
  readonly loopback: boolean;
  /** The activity from elsewhere (a replica asks its primary); otherwise this process is sampled. */
  readonly activity?: (since: number) => Promise<ActivitySnapshot>;
}

/**
 * Registers the dashboard on `app`.
 *
 * @returns a function that stops the local sampler, for the server's close.
 */
export async function registerServeDashboard(app: FastifyInstance, parts: ServeDashboardParts): Promise<() => void> {
  const { options, repository, metrics } = parts;
  let sampler: MetricsSampler | undefined;
  let activity = parts.activity;
  if (!activity) {
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
    admin: () => adminState(options, parts.loopback),
    ...(options.reports !== undefined ? { reportsDir: options.reports } : {}),
  };
  await app.register(dashboardRoutes, { source });
  return () => sampler?.stop();
}

/** Loaded versions with their state, and the models on disk that are not loaded. */
async function listModels(repository: ModelRepository): Promise<DashboardModel[]> {
  const out: DashboardModel[] = repository.index().map((e) => ({ name: e.name, version: e.version ?? null, state: e.state, reason: e.reason }));
  const known = new Set(out.map((m) => m.name));
  for (const name of await repository.scan().catch(() => [])) {
    if (!known.has(name)) out.push({ name, version: null, state: 'UNAVAILABLE', reason: 'unloaded' });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Mirrors the repository API's guard (routes/repository.ts), so the page offers only what would work. */
function adminState(options: Readonly<ServeOptions>, loopback: boolean): DashboardState['admin'] {
  if (!options.repositoryApi) return { enabled: false, tokenRequired: false, why: 'the repository API is turned off (--no-repository-api)' };
  if (options.adminToken !== undefined) return { enabled: true, tokenRequired: true };
  if (loopback) return { enabled: true, tokenRequired: false };
  return { enabled: false, tokenRequired: false, why: `the repository API needs --admin-token on ${options.host}` };
}
