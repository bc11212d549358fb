/**
 * A small, deterministic ONNX graph builder over onnx-proto.
 *
 * Graph builders (train step, forward, export) describe their nodes with it and call `toBytes()`.
 * Names are generated from counters, never from clocks or random sources, and every list is kept
 * in insertion order, so the same calls always serialize to the same bytes.
 *
 * @module
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * Default-domain opset the graphs target. 19 is the first opset whose `Equal` accepts strings,
 * which the export graph needs to one-hot categorical columns.
 */
export const OPSET_VERSION = 19;

/**
 * IR version written to the model. onnx-proto carries ONNX 1.10's schema, whose newest IR is 8;
 * onnxruntime does not tie opset 19 to IR 9, so IR 8 with opset 19 loads (checked by the tests).
 */
export const IR_VERSION = 8;

/** Element types the builder can declare for inputs, outputs and initializers. */
export type ElementType = 'float' | 'int64' | 'string' | 'bool';

/** One dimension: a fixed size, or a symbolic name such as `'N'` for the dynamic batch. */
export type Dim = number | string;

/** A node attribute value, tagged with its ONNX attribute type. */
export type AttributeValue =
  | { readonly int: number }
  | { readonly ints: readonly number[] }
  | { readonly float: number }
  | { readonly string: string }
  | {
      readonly tensor: {
        readonly type: 'float';
        readonly dims: readonly number[];
        readonly data: Float32Array;
      };
    };

/** Attributes of a node, by name. Serialized in sorted name order, so object order does not matter. */
export type Attributes = Readonly<Record<string, AttributeValue>>;

const ELEMENT_TYPES: Record<ElementType, number> = {
  float: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  string: onnx.TensorProto.DataType.STRING,
  bool: onnx.TensorProto.DataType.BOOL,
};

const utf8 = new TextEncoder();

/** Little-endian bytes of float32 values: ONNX raw_data is little-endian whatever the host. */
function floatBytes(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return out;
}

function int64Bytes(data: readonly number[]): Uint8Array {
  const out = new Uint8Array(data.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setBigInt64(i * 8, BigInt(data[i]!), true);
  return out;
}

function checkDims(name: string, dims: readonly number[], length: number): void {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (expected !== length) {
    throw new RangeError(
      `initializer ${name} has ${length} values, but dims [${dims.join(', ')}] need ${expected}`,
    );
  }
}

function valueInfo(
  name: string,
  type: ElementType,
  shape: readonly Dim[],
): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPES[type],
        // An empty dim list still declares rank 0 (a scalar), unlike an absent shape.
        shape: {
          dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

function attribute(name: string, value: AttributeValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('int' in value) return { name, type: T.INT, i: value.int };
  if ('ints' in value) return { name, type: T.INTS, ints: [...value.ints] };
  if ('float' in value) return { name, type: T.FLOAT, f: value.float };
  if ('string' in value) return { name, type: T.STRING, s: utf8.encode(value.string) };
  const t = value.tensor;
  checkDims(name, t.dims, t.data.length);
  return {
    name,
    type: T.TENSOR,
    t: { dims: [...t.dims], dataType: ELEMENT_TYPES.float, rawData: floatBytes(t.data) },
  };
}

/**
 * Builds one ONNX graph and serializes it as a ModelProto.
 *
 * @example
 * const g = new OnnxGraph('double');
 * g.input('x', 'float', ['N', 3]);
 * const two = g.floatConstant('two', new Float32Array([2]), []);
 * g.output(g.op('Mul', ['x', two]), 'float', ['N', 3]);
 * const bytes = g.toBytes();
 */
export class OnnxGraph {
  readonly #name: string;
  readonly #nodes: onnxProto.onnx.INodeProto[] = [];
  readonly #inputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly #outputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly #initializers: onnxProto.onnx.ITensorProto[] = [];
  readonly #metadata: onnxProto.onnx.IStringStringEntryProto[] = [];
  readonly #names = new Set<string>();
  #counter = 0;

  /** @param name Graph name, stored in the model. */
  constructor(name: string) {
    this.#name = name;
  }

  #claim(name: string): string {
    if (this.#names.has(name)) throw new RangeError(`graph value name ${name} is already used`);
    this.#names.add(name);
    return name;
  }

  /** A fresh value name derived from a counter: deterministic for a given call sequence. */
  #fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.#counter++}`;
    while (this.#names.has(name));
    return this.#claim(name);
  }

  /**
   * Declares a graph input.
   * @returns the input's name, for use in `op()`.
   */
  input(name: string, type: ElementType, shape: readonly Dim[]): string {
    this.#inputs.push(valueInfo(this.#claim(name), type, shape));
    return name;
  }

  /** Declares an existing value (an input, an initializer or a node output) as a graph output. */
  output(name: string, type: ElementType, shape: readonly Dim[]): void {
    if (!this.#names.has(name))
      throw new RangeError(`graph output ${name} is not a value of the graph`);
    this.#outputs.push(valueInfo(name, type, shape));
  }

  /** Adds a float initializer (a constant tensor). `dims` of `[]` make a scalar. */
  floatConstant(name: string, data: Float32Array, dims: readonly number[]): string {
    checkDims(name, dims, data.length);
    this.#initializers.push({
      name: this.#claim(name),
      dims: [...dims],
      dataType: ELEMENT_TYPES.float,
      rawData: floatBytes(data),
    });
    return name;
  }

  /** Adds an int64 initializer. Values must be safe integers. */
  int64Constant(name: string, data: readonly number[], dims: readonly number[]): string {
    checkDims(name, dims, data.length);
    this.#initializers.push({
      name: this.#claim(name),
      dims: [...dims],
      dataType: ELEMENT_TYPES.int64,
      rawData: int64Bytes(data),
    });
    return name;
  }

  /** Adds a string initializer (UTF-8). */
  stringConstant(name: string, data: readonly string[], dims: readonly number[]): string {
    checkDims(name, dims, data.length);
    this.#initializers.push({
      name: this.#claim(name),
      dims: [...dims],
      dataType: ELEMENT_TYPES.string,
      stringData: data.map((s) => utf8.encode(s)),
    });
    return name;
  }

  /**
   * Adds a node with one output.
   * @param opType ONNX operator, e.g. `'Gemm'`.
   * @param inputs Input value names; `''` skips an optional input.
   * @param attrs Node attributes.
   * @param output Output name; generated from the op type when omitted.
   * @returns the output's name.
   */
  op(opType: string, inputs: readonly string[], attrs: Attributes = {}, output?: string): string {
    return this.opMulti(opType, inputs, attrs, [output ?? ''])[0]!;
  }

  /**
   * Adds a node with several outputs. An empty name in `outputs` is replaced by a generated one.
   * @returns the output names.
   */
  opMulti(
    opType: string,
    inputs: readonly string[],
    attrs: Attributes,
    outputs: readonly string[],
  ): string[] {
    for (const input of inputs) {
      if (input !== '' && !this.#names.has(input))
        throw new RangeError(`${opType} input ${input} is not a value of the graph`);
    }
    const names = outputs.map((o) =>
      o === '' ? this.#fresh(opType.toLowerCase()) : this.#claim(o),
    );
    this.#nodes.push({
      name: `${opType}_${this.#nodes.length}`,
      opType,
      input: [...inputs],
      output: names,
      attribute: Object.keys(attrs)
        .sort()
        .map((key) => attribute(key, attrs[key]!)),
    });
    return names;
  }

  /** Adds a metadata_props entry; entries keep insertion order. */
  metadata(key: string, value: string): void {
    this.#metadata.push({ key, value });
  }

  /** Serializes the graph as an ONNX ModelProto (IR 8, default-domain opset 19). */
  toBytes(): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET_VERSION }],
      producerName: 'mlscale',
      graph: {
        name: this.#name,
        node: this.#nodes,
        input: this.#inputs,
        output: this.#outputs,
        initializer: this.#initializers,
      },
      metadataProps: this.#metadata,
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
