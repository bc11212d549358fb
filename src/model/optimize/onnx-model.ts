/**
 * Reading, checking and rewriting ONNX models at the protobuf level, for the optimisation passes
 * that must work on any model, not only the graphs mlscale builds with `OnnxGraph`.
 *
 * A file that is not an ONNX model and a model file that is damaged get different coded errors:
 * every serializer writes a ModelProto's fields in field order, so an ONNX file starts with the
 * `ir_version` tag (field 1, varint: byte 0x08). A file that starts so but does not decode is a
 * damaged model; one that does not start so, or decodes to no graph, is something else.
 *
 * @module
 */
import { readFile, stat } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import { ModelNotFoundError, NotOnnxError, OnnxCorruptError } from '../../errors.js';

const { onnx } = onnxProto;

/** A decoded ModelProto, mutable: the passes rewrite a fresh copy of it. */
export type Model = onnxProto.onnx.ModelProto;
/** A graph node. */
export type Node = onnxProto.onnx.INodeProto;
/** An initializer or attribute tensor. */
export type Tensor = onnxProto.onnx.ITensorProto;

/** ONNX TensorProto.DataType values the passes read and write. */
export const DataType = {
  FLOAT: onnx.TensorProto.DataType.FLOAT,
  UINT8: onnx.TensorProto.DataType.UINT8,
  INT8: onnx.TensorProto.DataType.INT8,
  INT32: onnx.TensorProto.DataType.INT32,
  INT64: onnx.TensorProto.DataType.INT64,
  STRING: onnx.TensorProto.DataType.STRING,
  BOOL: onnx.TensorProto.DataType.BOOL,
  FLOAT16: onnx.TensorProto.DataType.FLOAT16,
  DOUBLE: onnx.TensorProto.DataType.DOUBLE,
} as const;

/** The domain of onnxruntime's contrib operators (DynamicQuantizeMatMul, FusedGemm, ...). */
export const kOrtDomain = 'com.microsoft';

/** Tag byte of ModelProto field 1 (`ir_version`, varint), which every serializer writes first. */
const kIrVersionTag = 0x08;

/** A protobuf int64 as onnx-proto decodes it (a Long), or a plain number. */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  const long = v as { toNumber?: () => number } | null | undefined;
  return typeof long?.toNumber === 'function' ? long.toNumber() : Number(v);
}

/**
 * Decodes ONNX model bytes.
 * @param file Names the source in messages.
 * @throws NotOnnxError when the bytes are not an ONNX model; OnnxCorruptError when they are a damaged one.
 */
export function decodeModel(bytes: Uint8Array, file: string): Model {
  if (bytes.length === 0) throw new NotOnnxError(`${file} is empty, not an ONNX model`);
  const looksOnnx = bytes[0] === kIrVersionTag;
  let model: Model;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    if (looksOnnx) {
      throw new OnnxCorruptError(
        `${file} starts as an ONNX model but cannot be decoded (${(err as Error).message}): the file is truncated or damaged`,
        { cause: err },
      );
    }
    throw new NotOnnxError(
      `${file} is not an ONNX model (it does not decode as an ONNX ModelProto${describeStart(bytes)})`,
      { cause: err },
    );
  }
  if (!model.graph || toNumber(model.irVersion) <= 0) {
    throw new NotOnnxError(
      `${file} is not an ONNX model: it holds no ${model.graph ? 'IR version' : 'graph'}${describeStart(bytes)}`,
    );
  }
  return model;
}

/** ` ; it starts with "a,b,c"` for files that start with text, to say what the file seems to be. */
function describeStart(bytes: Uint8Array): string {
  const head = bytes.subarray(0, 24);
  const printable = head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127));
  if (!printable) return '';
  return `; it starts with ${JSON.stringify(Buffer.from(head).toString('latin1'))}`;
}

/** Serializes a ModelProto. */
export function encodeModel(model: Model): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Reads and decodes an ONNX file.
 * @throws ModelNotFoundError when the path does not exist or is a folder; NotOnnxError; OnnxCorruptError.
 */
export async function readModelFile(path: string): Promise<{ bytes: Uint8Array; model: Model }> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new ModelNotFoundError(`${path}: no such file`);
  if (!info.isFile()) throw new ModelNotFoundError(`${path} is not a file`);
  const bytes = await readFile(path);
  return { bytes, model: decodeModel(bytes, path) };
}

/** Number of values a tensor of these dims holds. */
export function dimsSize(dims: readonly unknown[]): number {
  return dims.reduce<number>((n, d) => n * toNumber(d), 1);
}

/** True when the tensor keeps its values in another file (the external data format). */
export function isExternal(t: Tensor): boolean {
  return (
    t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData?.length ?? 0) > 0
  );
}

/**
 * A float32 tensor's values, from `raw_data` (little-endian, as ONNX stores it) or `float_data`.
 * @throws RangeError for another element type or a value count that does not match the dims.
 */
export function floatValues(t: Tensor): Float32Array {
  if (t.dataType !== DataType.FLOAT) throw new RangeError(`tensor ${t.name} is not float32`);
  const size = dimsSize(t.dims ?? []);
  let out: Float32Array;
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== size * 4)
      throw new RangeError(
        `tensor ${t.name} has ${t.rawData.length} bytes of data, dims need ${size * 4}`,
      );
    const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = view.getFloat32(i * 4, true);
  } else {
    out = Float32Array.from(t.floatData ?? []);
    if (out.length !== size)
      throw new RangeError(`tensor ${t.name} has ${out.length} values, dims need ${size}`);
  }
  return out;
}

function littleEndian(data: Float32Array | Uint16Array): Uint8Array {
  const out = new Uint8Array(data.length * data.BYTES_PER_ELEMENT);
  const view = new DataView(out.buffer);
  if (data instanceof Float32Array)
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  else for (let i = 0; i < data.length; i++) view.setUint16(i * 2, data[i]!, true);
  return out;
}

/** A float32 initializer. */
export function floatTensor(name: string, data: Float32Array, dims: readonly number[]): Tensor {
  return { name, dims: [...dims], dataType: DataType.FLOAT, rawData: littleEndian(data) };
}

/** An int8 initializer. */
export function int8Tensor(name: string, data: Int8Array, dims: readonly number[]): Tensor {
  return {
    name,
    dims: [...dims],
    dataType: DataType.INT8,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

/** A float16 initializer from IEEE half-precision bit patterns. */
export function float16Tensor(name: string, bits: Uint16Array, dims: readonly number[]): Tensor {
  return { name, dims: [...dims], dataType: DataType.FLOAT16, rawData: littleEndian(bits) };
}

/** An integer attribute, e.g. Cast's `to`. */
export function intAttribute(name: string, value: number): onnxProto.onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
}

/** A node's integer or float attribute, or `fallback` when it is absent. */
export function attributeNumber(node: Node, name: string, fallback: number): number {
  const a = node.attribute?.find((x) => x.name === name);
  if (!a) return fallback;
  return a.type === onnx.AttributeProto.AttributeType.FLOAT
    ? (a.f ?? fallback)
    : toNumber(a.i ?? fallback);
}

/** A tensor value's declaration: element type and dims (a string for a symbolic dim). */
export function tensorValueInfo(
  name: string,
  elemType: number,
  dims: readonly (number | string)[],
): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: {
          dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

/** A model of one graph, IR 8 and default-domain opset 19 (as `OnnxGraph` writes), for small purpose-built graphs. */
export function newModel(graph: onnxProto.onnx.IGraphProto): Uint8Array {
  return encodeModel(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 19 }],
      producerName: 'mlscale',
      graph,
    }),
  );
}

/** Declares `domain` at `version` in the model's opset imports, unless it is there already. */
export function ensureOpset(model: Model, domain: string, version: number): void {
  const imports = model.opsetImport ?? (model.opsetImport = []);
  if (!imports.some((o) => (o.domain ?? '') === domain)) imports.push({ domain, version });
}

/**
 * Every value name the graph uses (inputs, outputs, initializers, node outputs), so that new
 * names never collide with a name the model already has.
 */
export function valueNames(model: Model): Set<string> {
  const g = model.graph!;
  const names = new Set<string>();
  for (const v of g.input ?? []) names.add(v.name ?? '');
  for (const v of g.output ?? []) names.add(v.name ?? '');
  for (const t of g.initializer ?? []) names.add(t.name ?? '');
  for (const n of g.node ?? []) for (const o of n.output ?? []) names.add(o);
  return names;
}

/** A function that returns `base` or `base_1`, `base_2`, ... whichever is still free. */
export function namer(taken: Set<string>): (base: string) => string {
  return (base) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
}

/**
 * The model's constant float tensors by name: initializers that are not also graph inputs (an
 * initializer listed as an input can be overridden at run time, so it is not a constant).
 */
export function constantInitializers(model: Model): Map<string, Tensor> {
  const g = model.graph!;
  const inputs = new Set((g.input ?? []).map((v) => v.name));
  const out = new Map<string, Tensor>();
  for (const t of g.initializer ?? []) if (!inputs.has(t.name)) out.set(t.name ?? '', t);
  return out;
}

/**
 * Whether this is a model `mlscale train` exported: it carries the export graph's metadata, so
 * its preprocessing constants (`pre_*`) and the target's de-standardisation (`target_*`) are
 * known by name and kept in FP32.
 */
export function isMlscaleExport(model: Model): boolean {
  return (
    model.producerName === 'mlscale' &&
    (model.metadataProps ?? []).some((p) => p.key === 'numeric_features')
  );
}

/** Initializer names of mlscale's preprocessing subgraph and output scaling (see export-graph.ts). */
export function isPreprocessingName(name: string): boolean {
  return name.startsWith('pre_') || name.startsWith('target_');
}
