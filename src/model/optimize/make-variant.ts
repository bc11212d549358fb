/**
 * Makes one variant's bytes from the original model, with what was done to it, or says why the
 * variant does not apply.
 *
 * @module
 */
import { NothingToQuantizeError } from '../../errors.js';
import { convertFp16, type Fp16TensorReport } from './convert-fp16.js';
import { isMlscaleExport, isPreprocessingName, type Model } from './onnx-model.js';
import { kGraphLevel, optimizeGraph } from './optimize-graph.js';
import type { OptimizeOptions, VariantKind } from './options.js';
import { quantizeInt8, type LayerReport } from './quantize-int8.js';
import { u8s8Saturates } from './saturation-probe.js';

/** What was done, per variant kind (recorded in the variant's metadata). */
export type VariantDetails =
  | {
      readonly kind: 'int8';
      readonly ops: OptimizeOptions['int8Ops'];
      readonly reduceRange: boolean;
      /** Why the weights have 7 or 8 bits. */
      readonly reduceRangeReason: string;
      readonly minWeights: number;
      readonly layers: readonly LayerReport[];
    }
  | { readonly kind: 'fp16'; readonly tensors: readonly Fp16TensorReport[] }
  | {
      readonly kind: 'graph';
      readonly level: string;
      readonly nodesBefore: number;
      readonly nodesAfter: number;
      readonly ops: Readonly<Record<string, number>>;
    };

/** A variant made, or not applicable with the reason. */
export type MadeVariant =
  | {
      readonly kind: VariantKind;
      readonly applicable: true;
      readonly bytes: Uint8Array;
      readonly details: VariantDetails;
      readonly summary: string;
    }
  | {
      readonly kind: VariantKind;
      readonly applicable: false;
      readonly reason: string;
      readonly details?: VariantDetails;
    };

/** Words for each variant, for tables and metadata. */
export const kVariantDescriptions: Record<VariantKind, string> = {
  int8: 'dynamic INT8: MatMul/Gemm weights in INT8 per output channel, activations quantised at run time',
  fp16: 'FP16 weights, cast to FP32 when the model loads (computes in FP32)',
  graph: `onnxruntime's graph optimisation (level '${kGraphLevel}') done once and saved`,
};

async function reduceRangeFor(
  setting: OptimizeOptions['reduceRange'],
): Promise<{ on: boolean; reason: string }> {
  if (setting === 'on') return { on: true, reason: '--reduce-range on' };
  if (setting === 'off') return { on: false, reason: '--reduce-range off' };
  return (await u8s8Saturates())
    ? {
        on: true,
        reason:
          "this machine's onnxruntime saturates u8 × s8 products (measured; CPUs without VNNI do), which 7-bit weights avoid, as onnxruntime's docs advise for such CPUs",
      }
    : {
        on: false,
        reason: "this machine's onnxruntime computes u8 × s8 products exactly (measured)",
      };
}

/**
 * Makes a variant of the model.
 * @param explicit Whether the user asked for this variant by name: then a model int8 cannot act
 *   on is an error (NothingToQuantizeError), not a variant that does not apply.
 */
export async function makeVariant(
  kind: VariantKind,
  bytes: Uint8Array,
  model: Model,
  file: string,
  o: Readonly<OptimizeOptions>,
  explicit: boolean,
): Promise<MadeVariant> {
  const own = isMlscaleExport(model);
  const keepFp32 = own ? isPreprocessingName : () => false;
  if (kind === 'int8') {
    const rr = await reduceRangeFor(o.reduceRange);
    let result;
    try {
      result = quantizeInt8(bytes, file, {
        ops: o.int8Ops,
        reduceRange: rr.on,
        minWeights: o.int8MinWeights,
        keepFp32,
      });
    } catch (err) {
      if (err instanceof NothingToQuantizeError && !explicit)
        return { kind, applicable: false, reason: err.message.replace(`${file} has `, '') };
      throw err;
    }
    const details: VariantDetails = {
      kind,
      ops: o.int8Ops,
      reduceRange: rr.on,
      reduceRangeReason: rr.reason,
      minWeights: o.int8MinWeights,
      layers: result.layers,
    };
    const total = result.layers.filter((l) => l.weight !== undefined).length;
    if (result.quantized === 0) {
      const largest = result.layers
        .filter((l) => l.k !== undefined)
        .sort((p, q) => p.k! * p.n! - q.k! * q.n!)
        .pop();
      return {
        kind,
        applicable: false,
        details,
        reason: `no layer is worth quantising: all ${total} MatMul/Gemm layers with constant weights stayed FP32${largest ? ` (the largest is ${largest.k} × ${largest.n}; under ${o.int8MinWeights} weights, quantising the activations costs more than the smaller product saves; --int8-min-weights 0 quantises them anyway)` : ''}`,
      };
    }
    return {
      kind,
      applicable: true,
      bytes: result.model,
      details,
      summary: `${result.quantized} of ${total} layers in INT8 (${rr.on ? '7-bit' : '8-bit'} weights, ${o.int8Ops} ops)`,
    };
  }
  if (kind === 'fp16') {
    const result = convertFp16(bytes, file, keepFp32);
    const details: VariantDetails = { kind, tensors: result.tensors };
    if (result.converted === 0)
      return {
        kind,
        applicable: false,
        details,
        reason: 'the model has no float32 weights that can be stored as float16',
      };
    return {
      kind,
      applicable: true,
      bytes: result.model,
      details,
      summary: `${result.converted} of ${result.tensors.length} float tensors in FP16${own ? ' (preprocessing kept FP32)' : ''}`,
    };
  }
  const result = await optimizeGraph(bytes, file);
  const details: VariantDetails = {
    kind,
    level: kGraphLevel,
    nodesBefore: result.nodesBefore,
    nodesAfter: result.nodesAfter,
    ops: result.ops,
  };
  return {
    kind,
    applicable: true,
    bytes: result.model,
    details,
    summary: `${result.nodesBefore} nodes → ${result.nodesAfter}`,
  };
}
