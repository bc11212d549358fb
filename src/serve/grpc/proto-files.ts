/**
 * The .proto files of the gRPC endpoint (the repository's `proto/` folder) and how they load:
 * proto-loader, with field names as the protocol spells them (`model_name`, `raw_input_contents`),
 * 64-bit integers as decimal strings (no precision lost; the JSON codec takes INT64 as digits too),
 * and defaults filled, so that handlers never test for absent repeated fields.
 *
 * @module
 */
import { join } from 'node:path';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';
import { packageRoot } from '../../util/package-root.js';

/** The proto-loader options the server reads its definitions with. */
export const kProtoLoaderOptions: Options = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});

/** The `proto/` folder of the package, with a trailing separator. */
export function protoDir(): string {
  return join(packageRoot(), 'proto') + '/';
}

/** The protocol's package `inference` (GRPCInferenceService) and `grpc.health.v1` (Health). */
export function loadServiceDefinitions(): PackageDefinition {
  const dir = protoDir();
  return loadSync([`${dir}grpc_predict_v2.proto`, `${dir}health.proto`], kProtoLoaderOptions);
}
