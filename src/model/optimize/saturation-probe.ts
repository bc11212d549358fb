/**
 * Whether this machine's onnxruntime saturates u8 × s8 products, measured rather than guessed
 * from CPU flags.
 *
 * On x86-64 CPUs without VNNI (AVX2, AVX-512 without VNNI), onnxruntime's u8s8 kernels use
 * VPMADDUBSW, which adds two u8 × s8 products into a signed 16-bit lane and saturates there: two
 * products of 255 × 127 (64,770) do not fit in 32,767. onnxruntime's quantisation docs advise
 * `reduce_range` (7-bit weights) for such machines: 2 × 255 × 63 = 32,130 fits. On this
 * project's machine (AMD EPYC, AVX2, no VNNI) a 64-deep MatMulInteger of 255s and 127s returns
 * 1,048,544 (32 × 32,767) instead of 2,072,640.
 *
 * The probe runs that product once: if the answer is not exact, this machine saturates.
 *
 * @module
 */
import ort from 'onnxruntime-node';
import { DataType, int8Tensor, newModel, tensorValueInfo } from './onnx-model.js';

const kDepth = 64;

/** A MatMulInteger of a [1, 64] uint8 input by a [64, 2] int8 matrix of 127s. */
function probeModel(): Uint8Array {
  return newModel({
    name: 'u8s8_saturation_probe',
    input: [tensorValueInfo('a', DataType.UINT8, [1, kDepth])],
    output: [tensorValueInfo('y', DataType.INT32, [1, 2])],
    initializer: [int8Tensor('b', new Int8Array(kDepth * 2).fill(127), [kDepth, 2])],
    node: [{ name: 'probe', opType: 'MatMulInteger', input: ['a', 'b'], output: ['y'] }],
  });
}

let cached: Promise<boolean> | undefined;

/**
 * True when onnxruntime on this machine saturates u8s8 products (so 7-bit weights are the safe
 * choice). Measured once per process.
 */
export function u8s8Saturates(): Promise<boolean> {
  cached ??= (async () => {
    const session = await ort.InferenceSession.create(probeModel(), {
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
    try {
      const out = await session.run({
        a: new ort.Tensor('uint8', new Uint8Array(kDepth).fill(255), [1, kDepth]),
      });
      return Number((out.y!.data as Int32Array)[0]) !== kDepth * 255 * 127;
    } finally {
      await session.release();
    }
  })();
  return cached;
}
