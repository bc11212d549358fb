/**
 * The linear regression candidate of an automatic run, solved exactly: one pass of `gramTask`
 * over the data, the sums folded in batch-id order, and `fitRidge` on the driver (`ridge.ts`).
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import type { ModelSpec, PreprocessingSpec } from '../model/spec.js';
import { batchCall, windows, type BatchInput } from './batch-stream.js';
import type { Executor, TaskRef } from './executors/executor.js';
import { addGram, emptyGram, fitRidge, kMaxGramWidth } from './ridge.js';
import type { GramInput, GramOutput, StageTimings, TaskContext } from './tasks.js';
import type { TrainLoopResult } from './train-loop.js';

/** True when `spec` can be solved exactly: a linear regression no wider than the limit. */
export function solvesExactly(spec: ModelSpec): boolean {
  return spec.family === 'linear' && spec.task === 'regression' && spec.inputs <= kMaxGramWidth;
}

/** What a ridge pass needs. */
export interface RidgePassArgs {
  readonly executor: Executor;
  /** The context with the validation slice. */
  readonly context: TaskContext;
  readonly spec: ModelSpec;
  readonly preprocessing: PreprocessingSpec;
  readonly pass: () => AsyncIterable<BatchInput>;
  readonly task: TaskRef;
  readonly addTimings: (t: StageTimings) => void;
}

/**
 * Solves the linear regression and reports it as a training run of one epoch whose validation loss
 * is the training rows' solve scored on the slice (in the target's units, as the MLP's).
 */
export async function ridgePass(
  a: RidgePassArgs,
): Promise<TrainLoopResult & { readonly alpha: number; readonly refitParams: Float32Array[] }> {
  const started = performance.now();
  let train = emptyGram(a.spec.inputs);
  let validation = emptyGram(a.spec.inputs);
  for await (const batches of windows(a.pass(), Math.max(2, a.executor.concurrency * 2))) {
    const out = await a.executor.map<GramInput, GramOutput>(
      a.task,
      batches.map((item) =>
        batchCall({ context: a.context, ...item, preprocessing: a.preprocessing, spec: a.spec }),
      ),
    );
    for (const o of out) {
      a.addTimings(o.timings);
      train = addGram(train, o.train);
      validation = addGram(validation, o.validation);
    }
  }
  const fit = fitRidge(train, validation);
  const scale = a.preprocessing.target!.std ** 2;
  const mse = fit.validationMse;
  return {
    // The training rows' solve, comparable with the MLP's weights on the slice; the final one uses every row.
    params: fit.trainParams,
    refitParams: fit.params,
    epochLoss: [],
    rounds: 0,
    epochMs: [performance.now() - started],
    epochs: 1,
    bestEpoch: 1,
    learningRates: [],
    ...(Number.isNaN(mse)
      ? {}
      : { validationLoss: [mse * scale], bestValidationLoss: mse * scale }),
    stopReason: `the linear model was solved exactly (ridge regression, α = ${fit.alpha}, on every training row)`,
    alpha: fit.alpha,
  };
}
