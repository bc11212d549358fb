/**
 * A gRPC client generated at run time from the repository's .proto files with proto-loader (as any
 * KServe/Triton client is generated from the same protocol), with promise-returning unary calls.
 */
import {
  credentials,
  loadPackageDefinition,
  Metadata,
  type Client,
  type GrpcObject,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoDir } from '../../../src/serve/grpc/proto-files.js';

/** A unary call's outcome: the response, or the error's code and details. */
export type Outcome<T = any> =
  { ok: true; response: T } | { ok: false; code: number; details: string; metadata: Metadata };

export interface GrpcClients {
  readonly inference: Client & Record<string, any>;
  readonly health: Client & Record<string, any>;
  close(): void;
}

/** Clients of `inference.GRPCInferenceService` and `grpc.health.v1.Health` at `address` (host:port). */
export function grpcClients(address: string, options: Record<string, unknown> = {}): GrpcClients {
  const dir = protoDir();
  const definition = loadSync([`${dir}grpc_predict_v2.proto`, `${dir}health.proto`], {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const root = loadPackageDefinition(definition) as any;
  const Inference = (root.inference as GrpcObject).GRPCInferenceService as any;
  const Health = root.grpc.health.v1.Health as any;
  const inference = new Inference(address, credentials.createInsecure(), options);
  const health = new Health(address, credentials.createInsecure(), options);
  return {
    inference,
    health,
    close() {
      inference.close();
      health.close();
    },
  };
}

/** Calls a unary method; never rejects. */
export function call<T = any>(
  client: Client & Record<string, any>,
  method: string,
  request: unknown,
  metadata: Metadata = new Metadata(),
): Promise<Outcome<T>> {
  return new Promise((resolve) => {
    client[method](request, metadata, (err: ServiceError | null, response: T) => {
      if (err) resolve({ ok: false, code: err.code, details: err.details, metadata: err.metadata });
      else resolve({ ok: true, response });
    });
  });
}

/** Calls a unary method; rejects with the status when it fails. */
export async function ok<T = any>(
  client: Client & Record<string, any>,
  method: string,
  request: unknown,
  metadata?: Metadata,
): Promise<T> {
  const outcome = await call<T>(client, method, request, metadata);
  if (!outcome.ok) throw new Error(`${method} failed: ${outcome.code} ${outcome.details}`);
  return outcome.response;
}
