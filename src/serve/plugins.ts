/**
 * How a model server is extended from outside: a plugin adds routes and hooks to the server's
 * Fastify app and reads what the server holds (its options, models, metrics). The live dashboard
 * is one, registered by `mlscale serve`; serve itself knows no plugin by name.
 *
 * Plugins are checked when they are given (a wrong shape fails before anything starts), registered
 * after the protocol's routes in the order given, and told when the server starts its drain.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { ServerMetrics } from './metrics.js';
import type { FilledServeOptions } from './options.js';
import type { ModelRepository } from './repository.js';

/** What a plugin sees of the server it extends. */
export interface ServerView {
  readonly options: Readonly<FilledServeOptions>;
  readonly repository: ModelRepository;
  readonly metrics: ServerMetrics;
  /** Whether the server listens on a loopback address only (the repository API's guard depends on it). */
  readonly loopback: boolean;
  /**
   * In a replica of `serve({ replicas })`: asks the primary on a topic that one of its cluster
   * observers answers (see `ClusterObserver.topic`), and resolves with the answer. Undefined in a
   * lone server.
   */
  readonly askPrimary?: (topic: string, body?: unknown) => Promise<unknown>;
}

/** An extension of the model server. */
export interface ServerPlugin {
  /** Names the plugin in errors and logs. */
  readonly name: string;
  /** Adds routes and hooks; called once, before the models load. */
  register(app: FastifyInstance, server: ServerView): Promise<void> | void;
  /** The server starts its drain: stop background work (timers, samplers). */
  onDrain?(): void;
}

/** Checks a list of plugins as given; TypeError naming the first wrong one. */
export function checkPlugins(plugins: unknown, where = 'plugins'): readonly ServerPlugin[] {
  if (!Array.isArray(plugins))
    throw new TypeError(`${where} must be an array of plugins, got ${typeof plugins}`);
  plugins.forEach((p: Partial<ServerPlugin> | null, i) => {
    const at = `${where}[${i}]`;
    if (p === null || typeof p !== 'object')
      throw new TypeError(`${at} must be a plugin object, got ${p === null ? 'null' : typeof p}`);
    if (typeof p.name !== 'string' || p.name === '')
      throw new TypeError(`${at}.name must be a non-empty string, got ${typeof p.name}`);
    if (typeof p.register !== 'function')
      throw new TypeError(
        `${at}.register (${p.name}) must be a function, got ${typeof p.register}`,
      );
    if (p.onDrain !== undefined && typeof p.onDrain !== 'function')
      throw new TypeError(`${at}.onDrain (${p.name}) must be a function, got ${typeof p.onDrain}`);
  });
  return plugins as readonly ServerPlugin[];
}
