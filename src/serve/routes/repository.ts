/**
 * The model repository extension: `POST /v2/repository/index`, `.../models/{name}/load` and
 * `.../models/{name}/unload`.
 *
 * These change what the server serves, so they are guarded: `--no-repository-api` turns them off
 * (403); `--admin-token` requires `Authorization: Bearer <token>` (401 without it); and with no
 * token they answer only on a loopback address, so a server exposed with `--host 0.0.0.0` cannot be
 * reloaded by anyone who can reach it.
 *
 * A loopback server is still reachable from the operator's browser, so requests a web page could
 * forge are refused too (browser-guard.ts): a `Host` that is not a loopback name or an allowed
 * host (DNS rebinding), an `Origin` of another site, and a body that is not JSON (a form or
 * `text/plain` post needs no CORS preflight; `application/json` does).
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ForbiddenError, InferenceRequestError, UnauthorizedError } from '../../errors.js';
import { jsonText } from '../protocol/request-body.js';
import { isLoopback } from '../loopback.js';
import { refuseForgeable } from './browser-guard.js';
import type { ServerContext } from '../server-context.js';

interface NameParams {
  name: string;
}

export async function repositoryRoutes(
  app: FastifyInstance,
  { context }: { context: ServerContext },
): Promise<void> {
  const { repository } = context;
  const guard = async (request: FastifyRequest): Promise<void> => {
    authorize(context, request);
    refuseForgeable(request, context.options);
  };

  app.post('/v2/repository/index', { preHandler: guard }, async (request) => {
    const body = readBody(request.body);
    const readyOnly = body.ready;
    if (readyOnly !== undefined && typeof readyOnly !== 'boolean') {
      throw new InferenceRequestError(
        `ready: expected true or false, got ${JSON.stringify(readyOnly)}`,
      );
    }
    const entries: { name: string; version?: string; state: string; reason: string }[] =
      repository.index();
    // Models on disk that are not loaded are listed too, as Triton does.
    const known = new Set(entries.map((e) => e.name));
    for (const name of await repository.scan().catch(() => [])) {
      if (!known.has(name)) entries.push({ name, state: 'UNAVAILABLE', reason: 'unloaded' });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return readyOnly ? entries.filter((e) => e.state === 'READY') : entries;
  });

  app.post<{ Params: NameParams }>(
    '/v2/repository/models/:name/load',
    { preHandler: guard },
    async (request) => {
      readBody(request.body);
      const model = await repository.load(request.params.name);
      request.log.info({ model: model.name, version: model.version }, 'model loaded');
      return {};
    },
  );

  app.post<{ Params: NameParams }>(
    '/v2/repository/models/:name/unload',
    { preHandler: guard },
    async (request) => {
      readBody(request.body);
      await repository.unload(request.params.name);
      request.log.info({ model: request.params.name }, 'model unloaded');
      return {};
    },
  );
}

/** Applies the repository API's guard; see the module comment. */
function authorize(context: ServerContext, request: FastifyRequest): void {
  const { options } = context;
  if (!options.repositoryApi)
    throw new ForbiddenError('the model repository API is turned off (--no-repository-api)');
  if (options.adminToken === undefined) {
    if (!isLoopback(options.host)) {
      throw new ForbiddenError(
        `the model repository API needs --admin-token when the server listens on ${options.host}, not a loopback address`,
      );
    }
    return;
  }
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer (.+)$/i.exec(header.trim()) : null;
  if (!match)
    throw new UnauthorizedError(
      'the model repository API needs an "Authorization: Bearer <admin token>" header',
    );
  const given = Buffer.from(match[1]!);
  const expected = Buffer.from(options.adminToken);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new UnauthorizedError('the admin token is wrong');
  }
}

/** An optional JSON object body (Triton's load/unload/index take parameters this server does not use). */
function readBody(body: unknown): Record<string, unknown> {
  if (body === undefined || (Buffer.isBuffer(body) && body.length === 0)) return {};
  const parsed = Buffer.isBuffer(body) ? jsonText(body) : body;
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InferenceRequestError(
      `body: expected a JSON object, got ${Array.isArray(parsed) ? 'an array' : JSON.stringify(parsed)}`,
    );
  }
  return parsed as Record<string, unknown>;
}
