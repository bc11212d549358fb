/**
 * A tiny seeded pseudo-random generator (mulberry32), for reproducible initialisation and shuffling.
 *
 * `Math.random()` cannot be seeded, and training must give bit-identical results from the same seed
 * on every run and in every thread, so everything random in mlscale draws from this class.
 *
 * @module
 */

/**
 * Seeded 32-bit PRNG. Mulberry32 passes gjrand/PractRand well enough for shuffling and weight
 * initialisation, and its state is a single 32-bit integer.
 * See https://gist.github.com/tommyettinger/46a874533244883189143505d203312c
 *
 * @example
 * const rng = new Prng(42);
 * const order = Int32Array.from({ length: 10 }, (_, i) => i);
 * rng.shuffle(order);
 */
export class Prng {
  #state: number;

  /** @param seed Any number; only its low 32 bits are used. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Next value, a uniform unsigned 32-bit integer. */
  nextUint32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1), with 32 bits of randomness. */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n), for 0 < n <= 2^32. */
  nextInt(n: number): number {
    // Multiply-shift instead of modulo: the bias is below 2^-32 * n, negligible at our sizes.
    return Math.floor(this.nextFloat() * n);
  }

  /** Standard normal sample (Box-Muller; no cached spare, so the stream stays simple to reason about). */
  normal(): number {
    // 1 - u keeps the logarithm's argument in (0, 1].
    const u = 1 - this.nextFloat();
    const v = this.nextFloat();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Shuffles `values` in place (Fisher-Yates) and returns it. */
  shuffle(values: Int32Array): Int32Array {
    for (let i = values.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = values[i]!;
      values[i] = values[j]!;
      values[j] = tmp;
    }
    return values;
  }
}
