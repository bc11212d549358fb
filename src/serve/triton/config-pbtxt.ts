/**
 * Reads a Triton `config.pbtxt` (a `ModelConfig` of Triton's model_config.proto, in the protobuf
 * text format) into mlscale's per-model settings, and says which of its fields mlscale ignores.
 *
 * What is read and how it maps:
 * - `max_batch_size` → `maxBatchSize` (0 in both: no batching);
 * - `instance_group { count kind }` → `instances`: the counts of the CPU groups (`KIND_CPU`,
 *   `KIND_AUTO` or no kind) added up; a `KIND_GPU` or `KIND_MODEL` group is ignored (named in the
 *   warning): mlscale runs onnxruntime on the CPU;
 * - `dynamic_batching { max_queue_delay_microseconds }` → `maxQueueDelayMs`; without a
 *   `dynamic_batching` block Triton holds no request back to make a batch, so neither does mlscale
 *   (`maxQueueDelayMs` 0; requests that queue while every instance is busy still run together);
 * - `dynamic_batching { preferred_batch_size }` is kept for `GET .../config` but does not shape
 *   batches (mlscale fills batches up to `max_batch_size`): it is named in the warning;
 * - `input` and `output` (`name`, `data_type`, `dims`) are checked against the model once loaded
 *   (see `checkDeclaredTensors`); with `max_batch_size` > 0, `dims` leave out the batch dimension;
 * - `name`, `platform` (`onnxruntime_onnx`) and `backend` (`onnxruntime`) are checked.
 * Every other field (`version_policy`, `optimization`, `parameters`, `model_warmup`, `reshape`,
 * ...) is ignored and named, with its line, in the warning the repository logs.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { ModelLoadError } from '../../errors.js';
import type { Datatype, TensorDescription } from '../../model/tensor-description.js';
import { validateModelSettings, type ModelSettings } from '../options.js';
import {
  parseTextFormat,
  TextFormatSyntaxError,
  type TextMessage,
  type TextValue,
} from './text-format.js';

/** Its name in a model's folder, as Triton's repositories have it. */
export const kTritonConfigFile = 'config.pbtxt';

/** An input or output as `config.pbtxt` declares it. */
export interface DeclaredTensor {
  readonly name: string;
  readonly datatype?: Datatype;
  /** As written: without the batch dimension when `max_batch_size` > 0. */
  readonly dims?: readonly number[];
}

/** What a `config.pbtxt` says that mlscale uses. */
export interface TritonConfig {
  /** The file, for messages. */
  readonly path: string;
  /** Settings it sets (only those it gives). */
  readonly settings: Partial<ModelSettings>;
  /** Its `max_batch_size`, when given: how its `dims` are to be read. */
  readonly maxBatchSize?: number;
  readonly preferredBatchSizes: readonly number[];
  readonly inputs: readonly DeclaredTensor[];
  readonly outputs: readonly DeclaredTensor[];
  /** The fields it ignores, as `field (line N)`. */
  readonly ignored: readonly string[];
}

/** Triton's `DataType` enum names and the protocol's datatypes. */
export const kTritonDatatypes: Readonly<Record<string, Datatype>> = {
  TYPE_BOOL: 'BOOL',
  TYPE_UINT8: 'UINT8',
  TYPE_UINT16: 'UINT16',
  TYPE_UINT32: 'UINT32',
  TYPE_UINT64: 'UINT64',
  TYPE_INT8: 'INT8',
  TYPE_INT16: 'INT16',
  TYPE_INT32: 'INT32',
  TYPE_INT64: 'INT64',
  TYPE_FP16: 'FP16',
  TYPE_FP32: 'FP32',
  TYPE_FP64: 'FP64',
  TYPE_STRING: 'BYTES',
};

/** The `TYPE_*` name of a protocol datatype. */
export function tritonDatatype(datatype: Datatype): string {
  return datatype === 'BYTES' ? 'TYPE_STRING' : `TYPE_${datatype}`;
}

const kKinds = ['KIND_AUTO', 'KIND_GPU', 'KIND_CPU', 'KIND_MODEL'] as const;

/** Reads a model's `config.pbtxt`; undefined when there is none. */
export async function readTritonConfig(
  path: string,
  modelName: string,
): Promise<TritonConfig | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelLoadError(`${path}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  return parseTritonConfig(text, path, modelName);
}

/**
 * Reads the text of a `config.pbtxt`.
 * @throws {ModelLoadError} naming the file, line and field for a syntax error or a bad value.
 */
export function parseTritonConfig(text: string, path: string, modelName: string): TritonConfig {
  let message: TextMessage;
  try {
    message = parseTextFormat(text);
  } catch (err) {
    if (err instanceof TextFormatSyntaxError)
      throw new ModelLoadError(`${path}:${err.message}`, { cause: err });
    throw err;
  }
  const reader = new Reader(path);
  const settings: { -readonly [K in keyof ModelSettings]?: ModelSettings[K] } = {};
  const out: {
    maxBatchSize?: number;
    preferredBatchSizes: number[];
    inputs: DeclaredTensor[];
    outputs: DeclaredTensor[];
  } = { preferredBatchSizes: [], inputs: [], outputs: [] };

  for (const [field, values] of message) {
    switch (field) {
      case 'name': {
        const name = reader.string(reader.single(field, values), field);
        if (name !== modelName)
          reader.fail(
            values[0]!,
            field,
            `"${modelName}" (the model's folder name)`,
            JSON.stringify(name),
          );
        break;
      }
      case 'platform':
      case 'backend': {
        const expected = field === 'platform' ? 'onnxruntime_onnx' : 'onnxruntime';
        const given = reader.string(reader.single(field, values), field);
        if (given !== expected)
          reader.fail(
            values[0]!,
            field,
            `"${expected}" (mlscale serves ONNX models with onnxruntime)`,
            JSON.stringify(given),
          );
        break;
      }
      case 'max_batch_size':
        out.maxBatchSize = reader.integer(reader.single(field, values), field, 0, 1 << 20);
        settings.maxBatchSize = out.maxBatchSize;
        break;
      case 'instance_group': {
        let count = 0;
        values.forEach((value, i) => {
          const at = `instance_group[${i}]`;
          const group = reader.message(value, at);
          let kind = 'KIND_AUTO';
          let groupCount = 1;
          for (const [sub, subValues] of group) {
            if (sub === 'kind')
              kind = reader.enumValue(reader.single(`${at}.kind`, subValues), `${at}.kind`, kKinds);
            else if (sub === 'count')
              groupCount = reader.integer(
                reader.single(`${at}.count`, subValues),
                `${at}.count`,
                1,
                256,
              );
            else if (sub !== 'name') reader.ignore(`${at}.${sub}`, subValues);
          }
          if (kind === 'KIND_AUTO' || kind === 'KIND_CPU') count += groupCount;
          else reader.ignore(`${at} (${kind}: mlscale runs on the CPU)`, [value]);
        });
        if (count > 0) settings.instances = count;
        break;
      }
      case 'dynamic_batching': {
        const batching = reader.message(reader.single(field, values), field);
        settings.maxQueueDelayMs = 0;
        for (const [sub, subValues] of batching) {
          const at = `${field}.${sub}`;
          if (sub === 'max_queue_delay_microseconds') {
            const us = reader.integer(reader.single(at, subValues), at, 0, 60_000_000);
            settings.maxQueueDelayMs = us / 1000;
          } else if (sub === 'preferred_batch_size') {
            for (const v of subValues)
              out.preferredBatchSizes.push(reader.integer(v, at, 1, 1 << 20));
            reader.ignore(
              `${at} (reported by GET .../config; batches fill up to max_batch_size)`,
              subValues,
            );
          } else reader.ignore(at, subValues);
        }
        break;
      }
      case 'input':
      case 'output':
        values.forEach((value, i) =>
          (field === 'input' ? out.inputs : out.outputs).push(
            reader.tensor(value, `${field}[${i}]`),
          ),
        );
        break;
      default:
        reader.ignore(field, values);
    }
  }
  // Without dynamic_batching, Triton runs each request as it comes.
  if (!message.has('dynamic_batching')) settings.maxQueueDelayMs = 0;
  validateModelSettings(settings, (key, expected, given) => {
    throw new ModelLoadError(`${path}: ${key} must be ${expected}, got ${String(given)}`);
  });
  return { path, settings, ...out, ignored: reader.ignored };
}

/** Typed access to parsed values, failing with the file, line and field. */
class Reader {
  readonly ignored: string[] = [];

  constructor(readonly path: string) {}

  fail(value: TextValue, field: string, expected: string, given: string): never {
    throw new ModelLoadError(
      `${this.path}:${value.line}:${value.column}: ${field}: expected ${expected}, got ${given}`,
    );
  }

  ignore(field: string, values: readonly TextValue[]): void {
    this.ignored.push(`${field} (line ${values[0]?.line ?? '?'})`);
  }

  single(field: string, values: readonly TextValue[]): TextValue {
    if (values.length !== 1) this.fail(values[1]!, field, 'one value', `${values.length}`);
    return values[0]!;
  }

  string(value: TextValue, field: string): string {
    if (value.kind !== 'string') this.fail(value, field, 'a quoted string', show(value));
    return value.value;
  }

  integer(value: TextValue, field: string, min: number, max: number): number {
    if (
      value.kind !== 'number' ||
      !Number.isInteger(value.value) ||
      value.value < min ||
      value.value > max
    )
      this.fail(value, field, `an integer from ${min} to ${max}`, show(value));
    return value.value;
  }

  enumValue<T extends string>(value: TextValue, field: string, names: readonly T[]): T {
    if (value.kind !== 'identifier' || !(names as readonly string[]).includes(value.value))
      this.fail(value, field, `one of ${names.join(', ')}`, show(value));
    return value.value as T;
  }

  message(value: TextValue, field: string): TextMessage {
    if (value.kind !== 'message') this.fail(value, field, 'a message { ... }', show(value));
    return value.fields;
  }

  tensor(value: TextValue, at: string): DeclaredTensor {
    const fields = this.message(value, at);
    let name: string | undefined;
    let datatype: Datatype | undefined;
    let dims: number[] | undefined;
    for (const [sub, values] of fields) {
      if (sub === 'name') name = this.string(this.single(`${at}.name`, values), `${at}.name`);
      else if (sub === 'data_type') {
        const type = this.enumValue(
          this.single(`${at}.data_type`, values),
          `${at}.data_type`,
          Object.keys(kTritonDatatypes),
        );
        datatype = kTritonDatatypes[type];
      } else if (sub === 'dims')
        dims = values.map((v) => this.integer(v, `${at}.dims`, -1, 2 ** 31 - 1));
      else this.ignore(`${at}.${sub}`, values);
    }
    if (name === undefined)
      throw new ModelLoadError(`${this.path}:${value.line}:${value.column}: ${at}: has no name`);
    return { name, ...(datatype ? { datatype } : {}), ...(dims ? { dims } : {}) };
  }
}

function show(value: TextValue): string {
  switch (value.kind) {
    case 'message':
      return 'a message';
    case 'number':
      return value.text;
    case 'string':
      return JSON.stringify(value.value);
    default:
      return value.value;
  }
}

/**
 * Checks the inputs and outputs a `config.pbtxt` declares against the loaded model's own, as
 * Triton does: a name the model does not have, another datatype, or dims the model cannot take
 * fail the load. A config dim may fix a dynamic (-1) one of the model; -1 in the config matches any.
 * @returns what is wrong, or undefined when they agree.
 */
export function checkDeclaredTensors(
  config: TritonConfig,
  model: {
    readonly inputs: readonly TensorDescription[];
    readonly outputs: readonly TensorDescription[];
  },
): string | undefined {
  const batched = (config.maxBatchSize ?? 0) > 0;
  for (const [kind, declared, actual] of [
    ['input', config.inputs, model.inputs],
    ['output', config.outputs, model.outputs],
  ] as const) {
    for (const d of declared) {
      const where = `${config.path}: ${kind} "${d.name}"`;
      const t = actual.find((a) => a.name === d.name);
      if (!t)
        return `${where}: the model has no such ${kind}; its ${kind}s are ${actual.map((a) => `"${a.name}"`).join(', ')}`;
      if (d.datatype !== undefined && d.datatype !== t.datatype)
        return `${where}: data_type ${tritonDatatype(d.datatype)}, but the model's is ${tritonDatatype(t.datatype)}`;
      if (d.dims === undefined) continue;
      if (batched && t.shape[0] !== -1)
        return `${where}: max_batch_size ${config.maxBatchSize} needs a dynamic first dimension, but the model's shape is [${t.shape.join(', ')}]`;
      const shape = batched ? t.shape.slice(1) : t.shape;
      const fits =
        shape.length === d.dims.length &&
        d.dims.every((dim, i) => dim === -1 || shape[i] === -1 || shape[i] === dim);
      if (!fits)
        return `${where}: dims [${d.dims.join(', ')}]${batched ? ' (without the batch dimension, as max_batch_size > 0)' : ''}, but the model's shape is [${t.shape.join(', ')}]`;
    }
  }
  return undefined;
}
