/**
 * How a model's inputs and outputs are described, in the Open Inference Protocol's (KServe v2 /
 * Triton) terms: the one definition that an artifact's `metadata.json` (written by export) and the
 * server's model metadata route (read by serve) share.
 *
 * @module
 */

/** The protocol's tensor datatypes. */
export const datatypes = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;
export type Datatype = (typeof datatypes)[number];

/**
 * One input or output of a model: its name, datatype and shape, where -1 marks a dynamic
 * dimension (the batch). `D` narrows the datatypes a producer can give.
 */
export interface TensorDescription<D extends Datatype = Datatype> {
  readonly name: string;
  readonly datatype: D;
  readonly shape: readonly number[];
}
