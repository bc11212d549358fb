/**
 * The model server: a Fastify app speaking the Open Inference Protocol (KServe v2 / Triton REST)
 * over a model repository, extended by plugins (plugins.ts), plus its lifecycle (listen, drain,
 * close). `createModelServer` is the library's door to it (exported by `mlscale/serve`).
 *
 * Request bodies reach the routes as raw Buffers whatever their content type: the protocol codec
 * parses JSON itself (safely, with secure-json-parse) and needs the raw bytes for the binary tensor
 * extension anyway; it also means `curl -d` (form content type) works as users expect.
 *
 * @module
 */
import { Server as NetServer } from 'node:net';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify';
import type { Logger } from 'pino';
import {
  ClientClosedError,
  MlscaleError,
  ModelNotReadyError,
  PayloadTooLargeError,
  QueueFullError,
  ShuttingDownError,
} from '../errors.js';
import fastifyCompress from '@fastify/compress';
import { kCompressThreshold } from './http/compression.js';
import { answerClientError, httpServerFactory } from './http/node-server.js';
import { requestDecoder } from './http/request-encoding.js';
import { BytesInFlight } from './bytes-in-flight.js';
import { isLoopback } from './loopback.js';
import { ServerMetrics } from './metrics.js';
import { loadServeTracing } from '../telemetry/load-serve-tracing.js';
import { GrpcEndpoint } from './grpc/grpc-endpoint.js';
import { checkPlugins, type ServerPlugin, type ServerView } from './plugins.js';
import { lazyChildLogger } from './request-logger.js';
import { resolveServeOptions, type FilledServeOptions, type ServeOptions } from './options.js';
import { ModelRepository, type RepositorySource } from './repository.js';
import { inferenceRoutes } from './routes/inference.js';
import { metricsRoutes } from './routes/metrics.js';
import { modelConfigRoutes } from './routes/model-config.js';
import { repositoryRoutes } from './routes/repository.js';
import type { ServerContext } from './server-context.js';

/** What a library caller adds to a server: a logger and plugins. */
export interface ServerSetup {
  /** A pino logger for the server's log lines; none: the server logs nothing. */
  readonly logger?: Logger;
  /** Extensions registered after the protocol's routes, in order (the dashboard is one). */
  readonly plugins?: readonly ServerPlugin[];
}

/** What a replica of a cluster changes about the server it runs (serve/cluster/replica.ts). */
export interface ReplicaSetup extends ServerSetup {
  /** GET /metrics answers with this text instead of the process's own registry. */
  readonly metricsText?: () => Promise<string>;
  /**
   * Stop accepting connections as soon as the drain begins, rather than after the unready delay:
   * for a cluster replica, whose balancer (the primary) stops sending it connections at once. A
   * connection accepted just before the listener closes would otherwise count as idle and be cut.
   */
  readonly stopAcceptingOnDrain?: boolean;
  /** Asks the primary on an observer's topic; plugins see it as `ServerView.askPrimary`. */
  readonly askPrimary?: (topic: string, body?: unknown) => Promise<unknown>;
}

/** A running (or ready to run) model server. */
export interface ModelServer {
  readonly app: FastifyInstance;
  readonly repository: ModelRepository;
  readonly metrics: ServerMetrics;
  /** The options it runs with, filled and frozen. */
  readonly options: Readonly<FilledServeOptions>;
  /**
   * Starts listening on `options.host` and `options.port` (and `options.grpcPort` for gRPC);
   * resolves with the base URL, e.g. `http://127.0.0.1:8000`.
   */
  listen(): Promise<string>;
  /** The gRPC endpoint's `host:port` once listening; undefined without `options.grpcPort`. */
  grpcAddress(): string | undefined;
  /**
   * Graceful shutdown: readiness turns false, new connections are refused, in-flight and queued
   * requests get up to `gracePeriodMs` to finish, then the rest are cut and every instance closes.
   * With `now` (also on a later call), what is left of the grace period is skipped: only batches
   * already running on an instance still finish.
   */
  close(how?: { now?: boolean }): Promise<void>;
}

/**
 * Builds a model server from options, validated here: loads its models (a model that fails to
 * load is kept as not ready, with its reason), registers the plugins; it does not listen yet.
 *
 * @example
 * const server = await createModelServer({ modelRepository: 'models', port: 0 });
 * const url = await server.listen();
 * // ... POST `${url}/v2/models/<name>/infer`
 * await server.close();
 */
export async function createModelServer(
  options: ServeOptions,
  setup: ServerSetup = {},
): Promise<ModelServer> {
  return createServer(resolveServeOptions(options), setup);
}

/** Builds the server from filled options (see `createModelServer`, which validates them first). */
export async function createServer(
  options: Readonly<FilledServeOptions>,
  setup: ReplicaSetup = {},
): Promise<ModelServer> {
  const plugins = checkPlugins(setup.plugins ?? [], 'setup.plugins');
  const logger = setup.logger;
  const metrics = new ServerMetrics();
  // OTEL_* variables ask for traces, or nothing about OpenTelemetry loads.
  const tracing = await loadServeTracing(process.env, (message) => logger?.warn(message));
  if (tracing) metrics.watchTraceExport(() => tracing.stats());
  const source: RepositorySource =
    options.model !== undefined
      ? {
          kind: 'single',
          path: options.model,
          ...(options.variant !== undefined ? { variant: options.variant } : {}),
        }
      : { kind: 'repository', root: options.modelRepository! };
  const repository = new ModelRepository(source, options.modelOverrides, {
    metrics,
    ...(logger ? { logger } : {}),
    ...(tracing ? { tracing } : {}),
  });
  let draining = false;
  const context: ServerContext = {
    options,
    repository,
    metrics,
    draining: () => draining,
    ...(tracing ? { tracing } : {}),
    ...(setup.metricsText ? { metricsText: setup.metricsText } : {}),
  };

  // Set when Fastify starts closing: from then on every request is refused with the protocol's body.
  let refusing = false;
  const bytesInFlight = new BytesInFlight(options.maxBytesInFlight, options.bodyLimit);
  metrics.watchBytesInFlight(() => bytesInFlight.used, options.maxBytesInFlight);
  const app = Fastify({
    ...(logger ? { loggerInstance: logger as unknown as FastifyBaseLogger } : {}),
    bodyLimit: options.bodyLimit,
    // Per-request log lines cost more than a small inference; errors are still logged with their request id.
    logController: new LogController({ disableRequestLogging: true }),
    // The per-request child logger is made only when the request logs (see request-logger.ts).
    childLoggerFactory: lazyChildLogger,
    requestIdHeader: 'x-request-id',
    // Fastify's own 503 while closing has its own body shape; `refuseWhileClosing` answers instead.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // The one check in front of Fastify's handler costs a boolean per request; a hook costs more.
    serverFactory: httpServerFactory(options, bytesInFlight, () => refusing),
    // A malformed URL, or a malformed HTTP request, gets the protocol's error body too.
    frameworkErrors: (err, _request, frameworkReply) => {
      const reply = frameworkReply as unknown as FastifyReply;
      void reply
        .code(typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 400)
        .send({ error: err.message });
    },
    clientErrorHandler: answerClientError,
  });
  app.removeAllContentTypeParsers();
  const rawBody = (
    _request: unknown,
    body: Buffer,
    done: (err: null, body: Buffer) => void,
  ): void => done(null, body);
  // The protocol's two content types by name as well: Fastify caches the parser it finds for a
  // named type, but looks the catch-all up again on every request (about 2.5% of the HTTP thread).
  for (const type of ['application/json', 'application/octet-stream', '*'])
    app.addContentTypeParser(type, { parseAs: 'buffer' }, rawBody);
  // Compressed bodies are decoded with the limit on the decompressed size (http/request-encoding.ts).
  app.addHook('preParsing', requestDecoder(options.bodyLimit));
  // Large answers (statistics, metrics, the repository index, ...) are compressed when the client
  // accepts it; small ones are not worth the CPU. Off the HTTP thread: zlib streams run on libuv's
  // pool (syncThreshold 0). The inference route compresses its own answers (routes/inference.ts).
  await app.register(fastifyCompress, {
    global: true,
    globalDecompression: false,
    encodings: ['gzip', 'deflate'],
    threshold: kCompressThreshold,
    syncThreshold: 0,
  });
  // A callback hook, not an async one: it runs on every response, and a promise each costs.
  app.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('x-request-id', request.id);
    // Exactly application/json, as KServe's Python client requires (Fastify adds "; charset=utf-8").
    if (reply.getHeader('content-type') === kJsonWithCharset)
      void reply.header('content-type', 'application/json');
    // Draining: a kept-alive connection would hold app.close() open after its last answer.
    if (draining) void reply.header('connection', 'close');
    done(null, payload);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({
      error: `no route ${request.method} ${request.url.split('?')[0]}; the API is under /v2 (see GET /v2) and /metrics`,
    });
  });
  app.setErrorHandler((err: FastifyError | MlscaleError, request, reply) => {
    const { status, message } = describeError(err, options.bodyLimit);
    // Conditions that pass on their own: shed load, a drain, a model (re)loading or unavailable.
    const transient =
      err instanceof QueueFullError ||
      err instanceof ShuttingDownError ||
      err instanceof ModelNotReadyError;
    if (transient) void reply.header('retry-after', '1');
    if (err instanceof ClientClosedError) {
      // Nobody will read the answer; sending it still ends the request's lifecycle cleanly.
      request.log.debug({ url: request.url }, err.message);
    } else if (status >= 500 && !transient) {
      request.log.error({ err, url: request.url }, 'request failed');
    }
    void reply.code(status).send({ error: message });
  });

  const grpc = options.grpcPort !== undefined ? new GrpcEndpoint(context) : undefined;

  await app.register(inferenceRoutes, { context });
  await app.register(modelConfigRoutes, { context });
  await app.register(repositoryRoutes, { context });
  await app.register(metricsRoutes, { context });
  const view: ServerView = {
    options,
    repository,
    metrics,
    loopback: isLoopback(options.host),
    ...(setup.askPrimary ? { askPrimary: setup.askPrimary } : {}),
  };
  for (const plugin of plugins) await plugin.register(app, view);

  await repository.loadAll();
  for (const entry of repository.index()) {
    if (entry.state === 'READY')
      app.log.info({ model: entry.name, version: entry.version }, 'model ready');
    else
      app.log.error(
        { model: entry.name, version: entry.version, reason: entry.reason },
        'model not ready',
      );
  }

  let closing: Promise<void> | undefined;
  let endGrace: (() => void) | undefined;
  let endUnready: (() => void) | undefined;
  let cutNow = false;
  return {
    app,
    repository,
    metrics,
    options,
    async listen() {
      const address = await app.listen({ host: options.host, port: options.port });
      // After HTTP: a cluster replica's first 'listening' event is the one its primary announces.
      if (grpc) await grpc.listen(options.host, options.grpcPort!);
      return address.replace(/^http:\/\/\[?::1\]?:/, 'http://[::1]:');
    },
    grpcAddress() {
      if (grpc?.port === undefined) return undefined;
      return options.host.includes(':')
        ? `[${options.host}]:${grpc.port}`
        : `${options.host}:${grpc.port}`;
    },
    close(how = {}) {
      if (how.now) cutNow = true;
      closing ??= (async () => {
        draining = true;
        for (const plugin of plugins) {
          try {
            plugin.onDrain?.();
          } catch (err) {
            app.log.error(
              { err, plugin: plugin.name },
              'a plugin failed to stop on drain; the drain goes on',
            );
          }
        }
        if (setup.stopAcceptingOnDrain && app.server.listening) {
          // net's close, not http's: that one would also cut kept-alive connections between two
          // requests; those get their last answer with "Connection: close" during the delay.
          NetServer.prototype.close.call(app.server);
          void grpc?.drain();
        }
        // Readiness turns false first: for unreadyDelayMs the server still answers everything but
        // reports not ready, so load balancers stop sending before it stops accepting.
        if (options.unreadyDelayMs > 0 && !cutNow) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, options.unreadyDelayMs);
            endUnready = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => {
          endGrace = resolve;
          timer = setTimeout(resolve, cutNow ? 0 : options.gracePeriodMs);
          timer.unref();
        });
        // Fastify stops accepting, answers 503 on kept-alive connections and waits for in-flight
        // requests; the repository drains its queues. Past the grace period, queued work is cut.
        refusing = true;
        const closed = Promise.all([app.close(), repository.close({ drain: true }), grpc?.drain()]);
        await Promise.race([closed, grace]);
        await repository.close({ drain: false });
        // Past the grace period, connections still open (a slow upload, say) are cut too.
        app.server.closeAllConnections();
        grpc?.close();
        await closed;
        clearTimeout(timer);
        // The last requests' spans go out before the process may exit.
        await tracing
          ?.flush()
          .catch((err: unknown) => app.log.warn({ err }, 'could not export the last spans'));
      })();
      if (how.now) {
        endUnready?.();
        endGrace?.();
      }
      return closing;
    },
  };
}

const kJsonWithCharset = 'application/json; charset=utf-8';

/** An error's HTTP status and a message that says what was wrong. */
function describeError(
  err: FastifyError | MlscaleError,
  bodyLimit: number,
): { status: number; message: string } {
  if (err instanceof MlscaleError) return { status: err.status, message: err.message };
  const fastifyError = err as FastifyError;
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    const e = new PayloadTooLargeError(
      `request body is larger than the server's limit of ${bodyLimit} bytes (--body-limit)`,
    );
    return { status: e.status, message: e.message };
  }
  const status =
    typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400
      ? fastifyError.statusCode
      : 500;
  return { status, message: status >= 500 ? 'internal server error' : fastifyError.message };
}
