/**
 * Parameter layout and initialisation of the models a `ModelSpec` describes.
 *
 * Parameters are a flat list `W0, b0, W1, b1, ...`, one pair per dense layer. `W_l` is an
 * `[in, out]` matrix stored row-major (so `Gemm(A, W_l, b_l)` needs no transpose) and `b_l` an
 * `[out]` vector. Every graph, optimizer and trainer relies on this order.
 *
 * @module
 */
import { ShapeError } from '../errors.js';
import { Prng } from './prng.js';
import type { ModelSpec } from './spec.js';

/** Name and shape of one parameter tensor. */
export interface ParameterShape {
  /** `W<l>` or `b<l>`; also the graph input or initializer name. */
  readonly name: string;
  readonly shape: readonly number[];
}

/**
 * Widths of the layers' activations, input first: `[inputs, ...hidden, outputs]`.
 * A linear model has no hidden layers, whatever `spec.hidden` says.
 */
export function layerSizes(spec: ModelSpec): number[] {
  const hidden = spec.family === 'linear' ? [] : [...spec.hidden];
  const sizes = [spec.inputs, ...hidden, spec.outputs];
  for (const size of sizes) {
    if (!Number.isInteger(size) || size < 1) {
      throw new ShapeError(`layer sizes must be positive integers, got [${sizes.join(', ')}]`);
    }
  }
  return sizes;
}

/**
 * Names and shapes of the parameters, in order `W0, b0, W1, b1, ...`.
 * @example parameterShapes(spec) // [{ name: 'W0', shape: [4, 3] }, { name: 'b0', shape: [3] }]
 */
export function parameterShapes(spec: ModelSpec): ParameterShape[] {
  const sizes = layerSizes(spec);
  const shapes: ParameterShape[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    shapes.push({ name: `W${l}`, shape: [sizes[l]!, sizes[l + 1]!] });
    shapes.push({ name: `b${l}`, shape: [sizes[l + 1]!] });
  }
  return shapes;
}

/** Total number of scalar parameters. */
export function parameterCount(spec: ModelSpec): number {
  return parameterShapes(spec).reduce((sum, p) => sum + p.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * Fresh parameters: Glorot/Xavier uniform weights, zero biases.
 * The same spec and seed always give the same values.
 * @param seed PRNG seed.
 * @returns one Float32Array per entry of `parameterShapes(spec)`.
 */
export function initParameters(spec: ModelSpec, seed: number): Float32Array[] {
  const rng = new Prng(seed);
  return parameterShapes(spec).map(({ shape }) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (shape.length === 2) {
      // Glorot & Bengio (2010): U(-a, a), a = sqrt(6 / (fan_in + fan_out)), keeps activation
      // variance roughly constant across layers for tanh; fine for relu at these depths.
      const limit = Math.sqrt(6 / (shape[0]! + shape[1]!));
      for (let i = 0; i < size; i++) values[i] = (2 * rng.nextFloat() - 1) * limit;
    }
    return values;
  });
}
