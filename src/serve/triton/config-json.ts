/**
 * A served model's configuration in Triton's shape: the JSON of a `ModelConfig` message of Triton's
 * model_config.proto, as `GET /v2/models/{m}[/versions/{v}]/config` answers it (Triton's model
 * configuration extension). Triton's clients, perf_analyzer and model_analyzer read it to learn
 * `max_batch_size`, the inputs' `dims` (without the batch dimension when `max_batch_size` > 0)
 * and datatypes before they send anything.
 *
 * It describes what the server does, not what a file said: flags and `config.json` win over
 * `config.pbtxt` (see model-config.ts). `max_queue_delay_microseconds` under `auto` is the adaptive
 * delay's upper bound, and the `parameters` entry `mlscale_max_queue_delay` says `auto`.
 *
 * @module
 */
import { kAutoMaxDelayMs } from '../adaptive-delay.js';
import type { ModelSettings } from '../options.js';
import type { ModelSignature } from '../types.js';
import type { TensorDescription } from '../../model/tensor-description.js';
import { tritonDatatype, type DeclaredTensor, type TritonConfig } from './config-pbtxt.js';

/** What the configuration is made from: a served model version. */
export interface ConfigSource {
  readonly name: string;
  readonly signature: ModelSignature;
  readonly settings: ModelSettings;
  readonly tritonConfig?: TritonConfig;
}

/** The `ModelConfig` JSON of a served model version. */
export function tritonModelConfig(model: ConfigSource): Record<string, unknown> {
  const { settings, signature } = model;
  const maxBatchSize = signature.batchable ? settings.maxBatchSize : 0;
  const declared = model.tritonConfig;
  const dimsOf = (t: TensorDescription, list: readonly DeclaredTensor[] | undefined): number[] => {
    // The config's dims may fix what the model leaves dynamic: they are what clients were told.
    const d = list?.find((x) => x.name === t.name)?.dims;
    const full =
      d === undefined ? [...t.shape] : (declared!.maxBatchSize ?? 0) > 0 ? [-1, ...d] : [...d];
    return maxBatchSize > 0 ? full.slice(1) : full;
  };
  const delayMs = settings.maxQueueDelayMs === 'auto' ? kAutoMaxDelayMs : settings.maxQueueDelayMs;
  return {
    name: model.name,
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    version_policy: { latest: { num_versions: 1 } },
    max_batch_size: maxBatchSize,
    input: signature.inputs.map((t) => ({
      name: t.name,
      data_type: tritonDatatype(t.datatype),
      format: 'FORMAT_NONE',
      dims: dimsOf(t, declared?.inputs),
      is_shape_tensor: false,
      allow_ragged_batch: false,
      optional: false,
    })),
    output: signature.outputs.map((t) => ({
      name: t.name,
      data_type: tritonDatatype(t.datatype),
      dims: dimsOf(t, declared?.outputs),
      label_filename: '',
      is_shape_tensor: false,
    })),
    instance_group: [
      {
        name: `${model.name}_0`,
        kind: 'KIND_CPU',
        count: settings.instances,
        gpus: [],
        secondary_devices: [],
        profile: [],
        passive: false,
        host_policy: '',
      },
    ],
    ...(maxBatchSize > 0
      ? {
          dynamic_batching: {
            preferred_batch_size: [...(declared?.preferredBatchSizes ?? [])],
            max_queue_delay_microseconds: Math.round(delayMs * 1000),
            preserve_ordering: false,
            priority_levels: 0,
            default_priority_level: 0,
            priority_queue_policy: {},
          },
        }
      : {}),
    default_model_filename: 'model.onnx',
    parameters: {
      mlscale_max_queue_delay: { string_value: String(settings.maxQueueDelayMs) },
      mlscale_max_queue: { string_value: String(settings.maxQueue) },
      mlscale_intra_op_threads: { string_value: String(settings.intraOpThreads) },
      mlscale_request_timeout_ms: { string_value: String(settings.requestTimeoutMs) },
    },
  };
}
