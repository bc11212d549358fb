/**
 * When to stop training (`--epochs auto`): early stopping on a validation slice carved from the
 * training rows, with the learning rate halved on a plateau, and the best epoch's weights kept.
 *
 * A fixed number of epochs is too few for a 500-row table (a few optimiser steps per epoch) and
 * too many for a 5,000,000-row one (each epoch sees millions of rows). So the limits scale with
 * the number of training rows, in rows seen rather than epochs:
 * - at most `maxEpochs` = 20,000,000 rows seen, within [10, 500] epochs (a 455-row table may run
 *   500 epochs; a 1.6M-row one at most 13);
 * - `patience` = epochs without improvement before stopping: 250,000 rows seen, within [2, 10];
 * - the learning rate is halved after `patience / 2` (rounded up) epochs without improvement, as
 *   Keras' ReduceLROnPlateau does: the last part of a plateau is often the step size, not the model.
 * An epoch improves when its validation loss is below the best so far by more than `tolerance`
 * (1e-4, scikit-learn's `tol` for its MLPs).
 *
 * Small tables need more care: a 10% slice of 400 training rows is 40 rows, whose loss is mostly
 * noise, and keeping 10% of so few rows out of the model costs accuracy. So up to
 * `kRefitRows` training rows the slice is 20% (a steadier choice of epoch), and once the best
 * epoch is known the model is trained again from its initial weights on every training row for
 * that many epochs, with the same learning-rate schedule ("refit"). That second run is cheap at
 * that size; above it, the slice is 10% and the best epoch's weights are kept.
 *
 * Everything here is a pure function of the validation losses, so the decision is the same on
 * every executor and worker count.
 *
 * @module
 */

/** The limits of an automatic run. */
export interface StoppingPolicy {
  /** Share of training rows set aside as the validation slice. */
  readonly validationFraction: number;
  /** Train again on every training row for the best epoch count (small tables). */
  readonly refit: boolean;
  readonly maxEpochs: number;
  /** Epochs without improvement before stopping. */
  readonly patience: number;
  /** Epochs without improvement before the learning rate is halved. */
  readonly reduceAfter: number;
  /** Smallest decrease of the validation loss that counts as an improvement. */
  readonly tolerance: number;
}

/** Training rows up to which the model is refit on every training row (see the module's comment). */
export const kRefitRows = 100_000;

/**
 * The policy for a number of training rows.
 *
 * @param trainRows - Rows available for training (the validation slice included).
 */
export function autoStoppingPolicy(trainRows: number): StoppingPolicy {
  const rows = Math.max(1, trainRows);
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
  const maxEpochs = clamp(Math.ceil(20_000_000 / rows), 10, 500);
  const patience = clamp(Math.ceil(250_000 / rows), 2, 20);
  const refit = rows <= kRefitRows;
  return {
    validationFraction: refit ? 0.2 : 0.1,
    refit,
    maxEpochs,
    patience,
    reduceAfter: Math.ceil(patience / 2),
    tolerance: 1e-4,
  };
}

/** What to do after an epoch. */
export interface StoppingDecision {
  /** The epoch's loss is the best so far: keep its weights. */
  readonly improved: boolean;
  /** Multiply the learning rate by this (1 or 0.5). */
  readonly learningRateFactor: number;
  /** Stop after this epoch. */
  readonly stop: boolean;
}

/** Follows the validation loss epoch by epoch. */
export class EarlyStopping {
  readonly policy: StoppingPolicy;
  /** Validation loss of each epoch so far. */
  readonly losses: number[] = [];
  #best = Infinity;
  #bestEpoch = -1;
  #since = 0;
  #sinceReduce = 0;
  #reason = '';

  constructor(policy: StoppingPolicy) {
    this.policy = policy;
  }

  /** 0-based epoch of the best validation loss, -1 before the first. */
  get bestEpoch(): number {
    return this.#bestEpoch;
  }

  get bestLoss(): number {
    return this.#best;
  }

  /** Why training stopped, in words (empty while it goes on). */
  get reason(): string {
    return this.#reason;
  }

  /** Takes the validation loss of the epoch just trained. */
  observe(loss: number): StoppingDecision {
    const epoch = this.losses.length;
    this.losses.push(loss);
    const improved = loss < this.#best - this.policy.tolerance;
    let factor = 1;
    if (improved) {
      this.#best = loss;
      this.#bestEpoch = epoch;
      this.#since = 0;
      this.#sinceReduce = 0;
    } else {
      this.#since++;
      this.#sinceReduce++;
      if (this.#sinceReduce >= this.policy.reduceAfter) {
        factor = 0.5;
        this.#sinceReduce = 0;
      }
    }
    let stop = false;
    if (this.#since >= this.policy.patience) {
      stop = true;
      this.#reason = `the validation loss did not improve for ${this.policy.patience} epochs (best ${formatLoss(this.#best)} at epoch ${this.#bestEpoch + 1})`;
    } else if (epoch + 1 >= this.policy.maxEpochs) {
      stop = true;
      this.#reason = `it reached the most epochs for ${this.policy.maxEpochs === 500 ? 'any' : 'this many'} rows (${this.policy.maxEpochs}; best validation loss ${formatLoss(this.#best)} at epoch ${this.#bestEpoch + 1})`;
    }
    return { improved, learningRateFactor: factor, stop };
  }
}

function formatLoss(loss: number): string {
  return Number.isFinite(loss) ? loss.toPrecision(4) : String(loss);
}
