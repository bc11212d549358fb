/**
 * The server's gRPC endpoint: a `@grpc/grpc-js` server on `options.host`:`options.grpcPort`
 * serving `inference.GRPCInferenceService` and `grpc.health.v1.Health` over the same context as
 * the REST routes. Its message limit is the REST body limit (`options.bodyLimit`): grpc-js refuses a
 * larger message with RESOURCE_EXHAUSTED from its length prefix, before reading it.
 *
 * @module
 */
import { Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';
import type { GrpcObject } from '@grpc/grpc-js';
import { loadPackageDefinition } from '@grpc/grpc-js';
import { InvalidOptionError } from '../../errors.js';
import type { ServerContext } from '../server-context.js';
import { healthService } from './health-service.js';
import { inferenceService } from './inference-service.js';
import { loadServiceDefinitions } from './proto-files.js';

/** A gRPC endpoint bound to a port. */
export class GrpcEndpoint {
  readonly #server: Server;
  #port: number | undefined;

  constructor(context: ServerContext) {
    const root = loadPackageDefinition(loadServiceDefinitions()) as GrpcObject;
    const inference = (root['inference'] as GrpcObject)['GRPCInferenceService'] as {
      service: ServiceDefinition;
    };
    const health = (((root['grpc'] as GrpcObject)['health'] as GrpcObject)['v1'] as GrpcObject)[
      'Health'
    ] as { service: ServiceDefinition };
    this.#server = new Server({
      'grpc.max_receive_message_length': context.options.bodyLimit,
      'grpc.max_send_message_length': -1,
      // As the HTTP side's keep-alive: longer than common balancers' idle timeouts.
      'grpc.keepalive_permit_without_calls': 1,
      // No channelz: its per-call bookkeeping (counters, call trackers) costs on every call,
      // and nothing here serves the channelz service.
      'grpc.enable_channelz': 0,
    });
    this.#server.addService(inference.service, inferenceService(context));
    this.#server.addService(health.service, healthService(context));
  }

  /** Binds `host`:`port` (0: a free one) and serves; resolves with the port. */
  listen(host: string, port: number): Promise<number> {
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(address, ServerCredentials.createInsecure(), (err, bound) => {
        if (err) {
          reject(
            new InvalidOptionError(
              `options.grpcPort ${port} cannot be listened on at ${host}: ${err.message}`,
              { option: 'grpcPort', cause: err },
            ),
          );
          return;
        }
        this.#port = bound;
        resolve(bound);
      });
    });
  }

  /** The bound port, once listening. */
  get port(): number | undefined {
    return this.#port;
  }

  /** Stops taking calls and waits for those running (their batches still end them). */
  drain(): Promise<void> {
    return new Promise((resolve) => this.#server.tryShutdown(() => resolve()));
  }

  /** Cuts every call and connection still open. */
  close(): void {
    this.#server.forceShutdown();
  }
}
