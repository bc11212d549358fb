/**
 * Opening a model version (see served-model.ts): reading its .onnx file and its mlscale metadata,
 * starting its instances, and checking them against the folder's config.pbtxt.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { ArtifactError, ModelLoadError } from '../errors.js';
import { metadataIdentity, readArtifactMetadata } from '../model/artifact.js';
import { InstancePool } from './instances/instance-pool.js';
import { checkDeclaredTensors } from './triton/config-pbtxt.js';
import type { ServerMetrics } from './metrics.js';
import type { ModelSettings } from './options.js';
import type { TritonConfig } from './triton/config-pbtxt.js';
import type { ServeTracing } from '../telemetry/types.js';

/** Where a model version's files are and how to serve it. */
export interface ServedModelSpec {
  readonly name: string;
  readonly version: string;
  /** The .onnx file. */
  readonly path: string;
  /** An mlscale artifact's metadata.json; optional (any ONNX model can be served). */
  readonly metadataPath?: string;
  readonly settings: ModelSettings;
  /** The model folder's Triton `config.pbtxt`, read: its inputs and outputs are checked at load. */
  readonly tritonConfig?: TritonConfig;
}

/** What the server lends every model: its metrics registry, its logger and its tracer when tracing is on. */
export interface ServedModelHooks {
  readonly metrics?: ServerMetrics;
  /** Warnings at load (the fields of a config.pbtxt that mlscale ignores). */
  readonly logger?: { warn(details: object, message: string): void };
  readonly tracing?: ServeTracing;
}

/**
 * Reads a model version's files, starts its instances and waits until all are ready.
 * @throws {ModelLoadError} when the file is missing or onnxruntime cannot load it.
 */
export async function openModelVersion(
  spec: ServedModelSpec,
  hooks: ServedModelHooks,
): Promise<{ pool: InstancePool; parameters: Record<string, unknown> | undefined }> {
  let modelBytes: Uint8Array;
  try {
    modelBytes = await readFile(spec.path);
  } catch (err) {
    throw new ModelLoadError(
      `${spec.name} version ${spec.version}: cannot read ${spec.path}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const parameters = spec.metadataPath ? await readParameters(spec.metadataPath) : undefined;
  const s = spec.settings;
  const pool = await InstancePool.create({
    modelBytes,
    instances: s.instances,
    intraOpThreads: s.intraOpThreads,
    allowSpinning: s.allowSpinning,
    // A batch running past a request's whole budget has no one left to answer: report it.
    wedgedAfterMs: s.requestTimeoutMs,
    loadTimeoutMs: s.loadTimeoutMs,
  }).catch((err: unknown) => {
    if (err instanceof ModelLoadError)
      throw new ModelLoadError(`${spec.name} version ${spec.version}: ${err.message}`, {
        cause: err,
      });
    throw err;
  });
  const triton = spec.tritonConfig;
  if (triton) {
    const problem = checkDeclaredTensors(triton, pool.signature());
    if (problem) {
      await pool.close();
      throw new ModelLoadError(`${spec.name} version ${spec.version}: ${problem}`);
    }
    if (triton.ignored.length > 0)
      hooks.logger?.warn(
        { model: spec.name, version: spec.version, file: triton.path, ignored: triton.ignored },
        `${triton.path}: mlscale ignores these fields: ${triton.ignored.join(', ')}`,
      );
  }
  return { pool, parameters };
}

/** What an mlscale metadata file says of the model, shown as model metadata parameters. */
async function readParameters(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    const metadata = await readArtifactMetadata(path);
    if (!metadata) return undefined;
    const identity = metadataIdentity(metadata) ?? {};
    // mlscale's exports impute missing numbers in the graph (NaN → the training mean): JSON null is
    // then a missing value, and the metadata says so to clients.
    const numeric = (metadata.preprocessing as { numeric?: { missing?: unknown } } | undefined)
      ?.numeric;
    if (typeof numeric?.missing === 'string')
      identity.missing_values = `JSON null (or NaN in binary data) in FP inputs: ${numeric.missing}`;
    return Object.keys(identity).length ? identity : undefined;
  } catch (err) {
    // A model that cannot load: the repository reports it as such (not ready, with the reason).
    if (err instanceof ArtifactError) throw new ModelLoadError(err.message, { cause: err });
    throw err;
  }
}
