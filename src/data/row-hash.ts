/**
 * A fast, well-mixed 32-bit hash of (row index, seed, salt), the root of every per-row random
 * choice (the held-out split, synthetic rows). Hashing the row index instead of drawing from a
 * running generator is what makes those choices independent of how rows are cut into batches.
 *
 * @module
 */

const kTwo32 = 4294967296;

/**
 * The MurmurHash3 32-bit finaliser: a bijection on uint32 with full avalanche.
 * Source: Austin Appleby, MurmurHash3 `fmix32` (public domain).
 *
 * @param h - Any number; only its low 32 bits are used.
 * @returns A uint32.
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Hashes a row index (0 ≤ rowIndex < 2^53) with a seed and a salt to a uint32.
 *
 * For a fixed seed and salt the map from the low 32 bits of the row index to the hash is a
 * bijection, so within any 2^32 consecutive rows no two rows share a hash. Different salts keep
 * different uses of the same seed (split vs. synthetic rows) uncorrelated.
 *
 * @param rowIndex - Non-negative integer row index.
 * @param seed - Non-negative integer seed (up to 2^53).
 * @param salt - A constant that names the use.
 * @returns A uint32.
 */
export function hashRow(rowIndex: number, seed: number, salt: number): number {
  const rowHi = Math.floor(rowIndex / kTwo32);
  const seedHi = Math.floor(seed / kTwo32);
  const key = fmix32(fmix32(fmix32(salt ^ seedHi) ^ seed) ^ rowHi);
  return fmix32(key ^ rowIndex);
}
