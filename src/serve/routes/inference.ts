/**
 * The protocol's health, metadata, inference and statistics endpoints.
 *
 * Readiness follows Triton's strict readiness: the server is ready when it is not shutting down and
 * every model version it knows can answer; a model whose instances are wedged or restarting, or that
 * failed to load, makes it not ready, with the reason in the body. Not ready is HTTP 400, as Triton
 * answers (the protocol says "4xx"); load balancers treat any non-2xx as down.
 *
 * @module
 */
import type { ServerResponse } from 'node:http';
import { gzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CancelSignal } from '../batcher.js';
import { ClientClosedError, ModelNotReadyError } from '../../errors.js';
import { version as mlscaleVersion } from '../../version.js';
import type { ServedModel } from '../served-model.js';
import type { ServerContext } from '../server-context.js';
import { kCompressThreshold } from '../http/compression.js';

interface ModelParams {
  name: string;
  version?: string;
}

const kModelPaths = ['/v2/models/:name', '/v2/models/:name/versions/:version'] as const;

/** Extensions this server implements, as `GET /v2` lists them. */
export function serverExtensions(context: ServerContext): string[] {
  const extensions = ['binary_tensor_data', 'statistics', 'model_configuration'];
  if (context.options.repositoryApi) extensions.push('model_repository');
  return extensions;
}

export async function inferenceRoutes(
  app: FastifyInstance,
  { context }: { context: ServerContext },
): Promise<void> {
  const { repository } = context;

  app.get('/v2/health/live', async () => ({ live: true }));

  app.get('/v2/health/ready', async (_request, reply) => {
    const reason = notReadyReason(context);
    if (reason === undefined) return { ready: true };
    return reply.code(400).send({ ready: false, reason });
  });

  app.get('/v2', async () => ({
    name: 'mlscale',
    version: mlscaleVersion,
    extensions: serverExtensions(context),
  }));

  app.get('/v2/models/stats', async () => ({
    model_stats: repository.models().map((m) => m.statistics()),
  }));

  for (const base of kModelPaths) {
    app.get<{ Params: ModelParams }>(base, async (request) =>
      modelOf(context, request.params).metadata(),
    );

    app.get<{ Params: ModelParams }>(`${base}/ready`, async (request, reply) => {
      let model: ServedModel;
      try {
        model = modelOf(context, request.params);
      } catch (err) {
        // Known but unable to answer (failed to load): not ready, with the reason.
        if (err instanceof ModelNotReadyError)
          return reply
            .code(400)
            .send({ name: request.params.name, ready: false, reason: err.message });
        throw err;
      }
      const health = model.health();
      if (health.state === 'READY' && !context.draining())
        return { name: model.name, version: model.version, ready: true };
      const reason = context.draining() ? 'the server is shutting down' : health.reason;
      return reply
        .code(400)
        .send({ name: model.name, version: model.version, ready: false, reason });
    });

    app.get<{ Params: ModelParams }>(`${base}/stats`, async (request) => ({
      model_stats: [modelOf(context, request.params).statistics()],
    }));

    // Not an async handler: the answer is sent from the inference's own promise, one layer fewer.
    // No compression hooks either (two more per request): `infer` compresses large answers itself.
    app.post<{ Params: ModelParams }>(`${base}/infer`, { compress: false }, (request, reply) => {
      infer(context, request, reply);
    });
  }
}

/** Answers an inference request; a throw (unknown model) is Fastify's to send, as is a rejection. */
function infer(
  context: ServerContext,
  request: FastifyRequest<{ Params: ModelParams }>,
  reply: FastifyReply,
): void {
  const model = modelOf(context, request.params);
  // The client going away drops its request if it is still queued: no work for no one.
  const signal = new ConnectionSignal(reply.raw);
  const body = request.body ?? Buffer.alloc(0);
  const trace = context.tracing?.request(
    'http',
    model.name,
    request.params.version,
    request.headers,
  );
  model.infer(body, request.headers, signal, trace).then(
    (response) => {
      trace?.end();
      const accept = request.headers['accept-encoding'];
      if (
        accept === undefined ||
        response.body.length < kCompressThreshold ||
        response.headers['content-type'] !== 'application/json' ||
        !acceptsGzip(accept)
      )
        return void reply.headers(response.headers).send(response.body);
      // A large JSON answer to a client that takes gzip: compressed on libuv's pool, not this thread.
      gzip(response.body, { level: 1 }, (err, compressed) => {
        if (err) return void reply.headers(response.headers).send(response.body);
        void reply
          .headers(response.headers)
          .header('content-encoding', 'gzip')
          .header('vary', 'accept-encoding')
          .send(compressed);
      });
    },
    (err: unknown) => {
      trace?.end(err);
      void reply.send(err);
    },
  );
}

/** Whether an `Accept-Encoding` header takes gzip (`gzip` or `*`, not with `q=0`). */
export function acceptsGzip(header: string): boolean {
  for (const part of header.split(',')) {
    const [token, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    if (token !== 'gzip' && token !== 'x-gzip' && token !== '*') continue;
    const q = params.find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

/**
 * Aborts when the connection closes before the response is finished. Lighter than an
 * AbortController per request, and enough for the batcher, which adds at most one listener.
 */
class ConnectionSignal implements CancelSignal {
  aborted = false;
  reason: unknown;
  #listener: (() => void) | undefined;

  constructor(response: ServerResponse) {
    // 'close' fires once per response: `on` spares the wrapper `once` allocates per request.
    response.on('close', () => {
      if (response.writableFinished) return;
      this.aborted = true;
      this.reason = new ClientClosedError(
        'the client closed the connection before the answer was ready',
      );
      this.#listener?.();
    });
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    this.#listener = listener;
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    if (this.#listener === listener) this.#listener = undefined;
  }
}

/** The model version a request names: 404 if unknown, 503 if it cannot answer now. */
function modelOf(context: ServerContext, params: ModelParams): ServedModel {
  return context.repository.get(params.name, params.version);
}

/** Why the server is not ready, or undefined when it is. */
export function notReadyReason(context: ServerContext): string | undefined {
  if (context.draining()) return 'the server is shutting down';
  const entries = context.repository.index();
  if (entries.length === 0) return 'no model is loaded';
  // A failed load of a newer version beside one that still serves is in the index, but the model answers.
  const serving = new Set(entries.filter((e) => e.state === 'READY').map((e) => e.name));
  const down = entries.filter(
    (e) => e.state !== 'READY' && !(e.state === 'UNAVAILABLE' && serving.has(e.name)),
  );
  if (down.length === 0) return undefined;
  return down
    .map(
      (e) =>
        `model "${e.name}" version ${e.version} is ${e.state}${e.reason ? `: ${e.reason}` : ''}`,
    )
    .join('; ');
}
