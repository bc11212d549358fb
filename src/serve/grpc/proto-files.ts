/**
 * The .proto files of the gRPC endpoint (the repository's `proto/` folder) and how they load:
 * proto-loader, with field names as the protocol spells them (`model_name`, `raw_input_contents`),
 * 64-bit integers as decimal strings (no precision lost; the JSON codec takes INT64 as digits too),
 * and defaults filled, so that handlers never test for absent repeated fields.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';

/** The proto-loader options the server reads its definitions with. */
export const kProtoLoaderOptions: Options = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});

/**
 * The `proto/` folder: beside `src/` when run from the sources, above `dist/` when compiled
 * (dist/src/serve/grpc → ../../../../proto).
 */
export function protoDir(): string {
  for (const up of ['../../../../proto/', '../../../proto/']) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(`${dir}grpc_predict_v2.proto`)) return dir;
  }
  throw new Error(
    'the gRPC .proto files (proto/grpc_predict_v2.proto) are missing from the package',
  );
}

/** The protocol's package `inference` (GRPCInferenceService) and `grpc.health.v1` (Health). */
export function loadServiceDefinitions(): PackageDefinition {
  const dir = protoDir();
  return loadSync([`${dir}grpc_predict_v2.proto`, `${dir}health.proto`], kProtoLoaderOptions);
}
