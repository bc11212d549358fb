/**
 * Which rows are held out for evaluation: chosen by a hash of the row index and the seed, so the
 * split does not depend on batch size, executor or worker count.
 *
 * @module
 */
import { isHeldOut } from '../data/split.js';
import type { RawBatch } from '../data/types.js';

/** The held-out split's settings. */
export interface SplitConfig {
  readonly seed: number;
  /** Fraction of rows held out, in [0, 1). */
  readonly fraction: number;
}

/** A mask over a batch's rows: 1 where the row is held out. */
export function heldOutMask(batch: RawBatch, split: SplitConfig): Uint8Array {
  const mask = new Uint8Array(batch.rowCount);
  for (let r = 0; r < batch.rowCount; r++) {
    mask[r] = isHeldOut(batch.rowIndex[r]!, split.seed, split.fraction) ? 1 : 0;
  }
  return mask;
}
