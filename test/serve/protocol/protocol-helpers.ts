/**
 * Shared fixtures for the protocol codec tests: model signatures, binary bodies and error checks.
 */
import assert from 'node:assert/strict';
import type { MlscaleError } from '../../../src/errors.js';
import type { Datatype } from '../../../src/model/tensor-description.js';
import type { ModelSignature } from '../../../src/serve/types.js';

/** A churn-like classifier: one 64-wide FP32 input, two outputs. */
export const classifier: ModelSignature = {
  inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 64] }],
  outputs: [
    { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] },
    { name: 'label', datatype: 'INT64', shape: [-1] },
  ],
  batchable: true,
};

/** Two inputs of different datatypes. */
export const mixed: ModelSignature = {
  inputs: [
    { name: 'x_num', datatype: 'FP32', shape: [-1, 3] },
    { name: 'x_cat', datatype: 'INT64', shape: [-1, 2] },
  ],
  outputs: [{ name: 'score', datatype: 'FP32', shape: [-1, 1] }],
  batchable: true,
};

/** A model without a batch dimension: shapes must match exactly, -1 matching any size. */
export const fixed: ModelSignature = {
  inputs: [{ name: 'image', datatype: 'FP32', shape: [2, -1] }],
  outputs: [{ name: 'out', datatype: 'FP32', shape: [2] }],
  batchable: false,
};

/** One batchable input `v` of `datatype` with `width` columns, echoed as output `v_out`. */
export function single(datatype: Datatype, width: number): ModelSignature {
  return {
    inputs: [{ name: 'v', datatype, shape: [-1, width] }],
    outputs: [{ name: 'v_out', datatype, shape: [-1, width] }],
    batchable: true,
  };
}

/** A binary-extension body: the JSON header, then `parts` in order, and the header that sizes the JSON. */
export function binaryBody(
  header: unknown,
  ...parts: Uint8Array[]
): { body: Buffer; headers: Record<string, string> } {
  const json = Buffer.from(JSON.stringify(header));
  return {
    body: Buffer.concat([json, ...parts]),
    headers: { 'inference-header-content-length': String(json.length) },
  };
}

/** BYTES elements in the binary layout: each a 4-byte little-endian length, then its UTF-8 bytes. */
export function bytesElements(...values: string[]): Buffer {
  return Buffer.concat(
    values.map((v) => {
      const bytes = Buffer.from(v, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      return Buffer.concat([length, bytes]);
    }),
  );
}

/** Asserts that `fn` throws an error of class `Cls` with `code` and exactly `message`. */
export function assertThrowsExactly(
  fn: () => unknown,
  Cls: abstract new (...args: never[]) => MlscaleError,
  code: string,
  message: string,
): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof Cls, `expected ${Cls.name}, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.message, message);
    return true;
  });
}

/** Asserts that `fn` throws an error of class `Cls` with `code` whose message holds every fragment. */
export function assertThrowsWith(
  fn: () => unknown,
  Cls: abstract new (...args: never[]) => MlscaleError,
  code: string,
  ...fragments: string[]
): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof Cls, `expected ${Cls.name}, got ${String(err)}`);
    assert.equal(err.code, code);
    for (const f of fragments)
      assert.ok(
        err.message.includes(f),
        `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`,
      );
    return true;
  });
}
