/**
 * The model choice of an automatic run on a small table: a linear model and an MLP are both
 * trained on the training rows less the validation slice, then scored row by row on the second
 * half of the slice (the first half picked the MLP's epoch, so its losses there are optimistic),
 * and the MLP is kept only when it beats the linear model by more than one standard error of the
 * paired difference (Breiman's one-standard-error rule). On a few hundred rows the losses are
 * noisy; the rule keeps the simpler model unless the evidence for the other is clear.
 *
 * @module
 */
import type { ModelSpec, PreprocessingSpec } from '../model/spec.js';
import { batchCall, windows, type BatchInput } from './batch-stream.js';
import type { Executor, TaskRef } from './executors/executor.js';
import type { CompareInput, CompareOutput, StageTimings, TaskContext } from './tasks.js';

/** A model to compare: its spec and weights. */
export interface ComparedModel {
  readonly spec: ModelSpec;
  readonly params: readonly Float32Array[];
}

/** The outcome of a comparison. */
export interface ModelComparison {
  /** Validation rows compared. */
  readonly rows: number;
  /** Mean over rows of (loss of the second model − loss of the first): negative favours the second. */
  readonly meanDifference: number;
  /** Standard error of that mean. */
  readonly standardError: number;
  /** True when the second model is kept. */
  readonly second: boolean;
}

/**
 * Applies the one-standard-error rule to summed paired differences.
 *
 * @param rows - Rows compared.
 * @param sum - Σ d, d = second's loss − first's loss per row.
 * @param sumSquares - Σ d².
 */
export function oneStandardErrorRule(
  rows: number,
  sum: number,
  sumSquares: number,
): ModelComparison {
  if (rows < 2)
    return { rows, meanDifference: rows === 1 ? sum : NaN, standardError: NaN, second: false };
  const mean = sum / rows;
  const variance = Math.max(0, (sumSquares - rows * mean * mean) / (rows - 1));
  const standardError = Math.sqrt(variance / rows);
  return { rows, meanDifference: mean, standardError, second: mean + standardError < 0 };
}

/** Compares two models on the validation slice of every batch, folding the sums in batch-id order. */
export async function compareModels(a: {
  readonly executor: Executor;
  readonly context: TaskContext;
  readonly preprocessing: PreprocessingSpec;
  readonly models: readonly [ComparedModel, ComparedModel];
  readonly pass: () => AsyncIterable<BatchInput>;
  readonly task: TaskRef;
  readonly addTimings: (t: StageTimings) => void;
}): Promise<ModelComparison> {
  let rows = 0;
  let sum = 0;
  let sumSquares = 0;
  for await (const batches of windows(a.pass(), Math.max(2, a.executor.concurrency * 2))) {
    const out = await a.executor.map<CompareInput, CompareOutput>(
      a.task,
      batches.map((item) =>
        batchCall({
          context: a.context,
          ...item,
          preprocessing: a.preprocessing,
          models: a.models,
        }),
      ),
    );
    for (const o of out) {
      a.addTimings(o.timings);
      rows += o.rows;
      sum += o.sum;
      sumSquares += o.sumSquares;
    }
  }
  return oneStandardErrorRule(rows, sum, sumSquares);
}
