/**
 * A small-state random stream (sfc32) that is reseeded for each row from the row's hash, so that
 * a row's values depend on (seed, row index) alone and not on which rows were generated before.
 *
 * sfc32's 128-bit state, unlike a 32-bit Weyl-sequence generator, keeps the streams of different
 * rows from overlapping. Source: Chris Doty-Humphrey, PractRand (public domain).
 *
 * @module
 */
import { fmix32 } from './row-hash.js';

const kTwo32 = 4294967296;

/** A reseedable uniform and normal random stream; one instance is reused across rows. */
export class RowRandom {
  #a = 0;
  #b = 0;
  #c = 0;
  #d = 0;
  #spare = NaN;

  /**
   * Restarts the stream from a 32-bit hash.
   *
   * @param hash - A well-mixed uint32 (see `hashRow`).
   */
  reseed(hash: number): void {
    this.#a = hash;
    this.#b = fmix32(hash ^ 0x9e3779b9);
    this.#c = fmix32(hash ^ 0x7f4a7c15);
    this.#d = 1;
    this.#spare = NaN;
    // The recommended warm-up, so the first outputs of neighbouring seeds are unrelated.
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** A uniform uint32. */
  uint32(): number {
    const a = this.#a;
    const b = this.#b;
    const c = this.#c;
    const d = this.#d;
    const t = (((a + b) | 0) + d) | 0;
    this.#d = (d + 1) | 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) | 0;
    this.#c = ((c << 21) | (c >>> 11)) + t;
    this.#c |= 0;
    return t >>> 0;
  }

  /** A uniform number in [0, 1). */
  uniform(): number {
    return this.uint32() / kTwo32;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** A standard normal number (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.#spare)) {
      const spare = this.#spare;
      this.#spare = NaN;
      return spare;
    }
    // (u + 1) / 2^32 lies in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log((this.uint32() + 1) / kTwo32));
    const angle = 2 * Math.PI * this.uniform();
    this.#spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }
}
