/**
 * The held-out split: which rows are kept out of training for evaluation.
 *
 * The decision depends only on (row index, seed), never on batching, executor or machine, so
 * every worker agrees on it without coordination and a rerun with the same seed holds out the
 * same rows.
 *
 * @module
 */
import { hashRow } from './row-hash.js';

/** Salt that separates the split's hash from other uses of the same seed (ASCII "splt"). */
const kSplitSalt = 0x73706c74;
const kTwo32 = 4294967296;

/**
 * Decides whether a row belongs to the held-out set.
 *
 * The row's hash is mapped to a uniform number u in [0, 1); the row is held out when u < fraction.
 * So fraction 0 holds out nothing and fraction 1 holds out everything. Arguments are not
 * validated here because this runs once per row: the caller validates `fraction` (0 ≤ f ≤ 1) and
 * `seed` (a non-negative integer) once, at its public boundary.
 *
 * @param rowIndex - Dataset row index (`RawBatch.rowIndex`), a non-negative integer.
 * @param seed - Split seed, a non-negative integer.
 * @param fraction - Share of rows to hold out, in [0, 1].
 * @returns True when the row is held out.
 * @example
 * isHeldOut(42, 7, 0.2); // same answer on every machine, in every batch layout
 */
export function isHeldOut(rowIndex: number, seed: number, fraction: number): boolean {
  return hashRow(rowIndex, seed, kSplitSalt) / kTwo32 < fraction;
}

/** Salt of the validation slice's hash (ASCII "vald"): independent of the held-out split. */
const kValidationSalt = 0x76616c64;

/**
 * Decides whether a training row belongs to the validation slice that early stopping watches.
 * Like the held-out split, it depends only on (row index, seed).
 *
 * @param rowIndex - Dataset row index, a non-negative integer.
 * @param seed - Split seed.
 * @param fraction - Share of training rows in the slice, in [0, 1].
 */
export function isValidation(rowIndex: number, seed: number, fraction: number): boolean {
  return hashRow(rowIndex, seed, kValidationSalt) / kTwo32 < fraction;
}

/** Salt of the hash that halves the validation slice (ASCII "half"). */
const kHalfSalt = 0x68616c66;

/**
 * Which half of the validation slice a row falls in: the first decides when training stops, the
 * second compares the models of an automatic run (so that comparison is not made on the rows
 * that picked the MLP's epoch).
 *
 * @returns True for the second half.
 */
export function isSecondHalf(rowIndex: number, seed: number): boolean {
  return hashRow(rowIndex, seed, kHalfSalt) / kTwo32 < 0.5;
}
