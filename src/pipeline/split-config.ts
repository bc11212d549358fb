/**
 * Which rows of a batch are for training, held out for evaluation, or in the validation slice
 * that early stopping watches: chosen by hashes of the row index and the seed, so the split does
 * not depend on batch size, executor or worker count.
 *
 * @module
 */
import { isHeldOut, isSecondHalf, isValidation } from '../data/split.js';
import type { RawBatch } from '../data/types.js';

/** The split's settings. */
export interface SplitConfig {
  readonly seed: number;
  /** Fraction of rows held out for evaluation, in [0, 1). */
  readonly fraction: number;
  /** Fraction of the other rows kept out of training to decide when to stop; 0 or absent: none. */
  readonly validation?: number;
  /**
   * Halve the validation slice: the first half decides when to stop, the second compares the
   * models of an automatic run (`model-choice.ts`).
   */
  readonly compare?: boolean;
}

/** A row's set: what `rowSets` marks it with. */
export const enum RowSet {
  Train = 0,
  HeldOut = 1,
  Validation = 2,
  Comparison = 3,
}

/** Each row's set (train 0, held out 1, validation 2, comparison 3). */
export function rowSets(batch: RawBatch, split: SplitConfig): Uint8Array {
  const mask = new Uint8Array(batch.rowCount);
  const validation = split.validation ?? 0;
  for (let r = 0; r < batch.rowCount; r++) {
    const row = batch.rowIndex[r]!;
    if (isHeldOut(row, split.seed, split.fraction)) mask[r] = RowSet.HeldOut;
    else if (validation > 0 && isValidation(row, split.seed, validation)) {
      mask[r] =
        split.compare === true && isSecondHalf(row, split.seed)
          ? RowSet.Comparison
          : RowSet.Validation;
    }
  }
  return mask;
}

/** A mask over a batch's rows: 1 where the row is held out (training and validation rows: 0). */
export function heldOutMask(batch: RawBatch, split: SplitConfig): Uint8Array {
  const mask = new Uint8Array(batch.rowCount);
  for (let r = 0; r < batch.rowCount; r++) {
    mask[r] = isHeldOut(batch.rowIndex[r]!, split.seed, split.fraction) ? 1 : 0;
  }
  return mask;
}
