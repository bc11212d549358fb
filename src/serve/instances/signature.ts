/**
 * A model's signature in the inference protocol's terms, from onnxruntime's metadata of its inputs
 * and outputs. Both sides of an instance compute it: the pool, for metadata and the batcher; the
 * worker, to check each request against the model.
 *
 * @module
 */
import { ModelLoadError } from '../../errors.js';
import { datatypeFromOnnx } from '../protocol/datatypes.js';
import type { TensorDescription } from '../../model/tensor-description.js';
import type { ModelSignature } from '../types.js';
import type { RawValueMetadata } from './messages.js';

/** onnxruntime's description of a model's inputs and outputs. */
export interface RawMetadata {
  readonly inputs: readonly RawValueMetadata[];
  readonly outputs: readonly RawValueMetadata[];
}

/**
 * The protocol view of onnxruntime's metadata. Inputs must be tensors of protocol datatypes;
 * outputs that are not (sequences, maps, bfloat16, ...) are left out, since no request could
 * receive them.
 */
export function toSignature(raw: RawMetadata, source: string): ModelSignature {
  const convert = (m: RawValueMetadata): TensorDescription | undefined => {
    const datatype = m.type === undefined ? undefined : datatypeFromOnnx(m.type);
    if (datatype === undefined) return undefined;
    // Symbolic ("N") and unknown dimensions both come back as strings.
    return {
      name: m.name,
      datatype,
      shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
    };
  };
  const inputs = raw.inputs.map((m) => {
    const meta = convert(m);
    if (!meta) {
      const what = m.type === undefined ? 'is not a tensor' : `has type ${m.type}`;
      throw new ModelLoadError(
        `${source}: input "${m.name}" ${what}, which the inference protocol cannot carry`,
      );
    }
    return meta;
  });
  const outputs = raw.outputs.map(convert).filter((m): m is TensorDescription => m !== undefined);
  if (outputs.length === 0)
    throw new ModelLoadError(`${source}: the model has no output the inference protocol can carry`);
  const batchable = [...inputs, ...outputs].every((t) => t.shape.length > 0 && t.shape[0] === -1);
  return { inputs, outputs, batchable };
}
