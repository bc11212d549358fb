/**
 * The per-batch work of `bench:pipeline`'s CSV ceiling (read a byte range, parse it, then each
 * epoch preprocess and train on it) with no pipeline around it, callable on any thread: the
 * bench runs it on its main thread (one thread, as the inline executor does) and in worker
 * threads (`csv-ceiling-worker.ts`).
 *
 * With `barrier`, the threads also meet after every `every` batches each, as the pipeline's
 * synchronous rounds make them do (a round of 4 batches on 2 threads: 2 each, then wait for the
 * slower one), with nothing else of a round (no averaging, no messages): what the rounds
 * themselves cost on this machine.
 */
import { CsvSource } from '../src/data/csv-source.js';
import type { BatchSpan, RawBatch, Schema } from '../src/data/types.js';
import { createOptimizerState } from '../src/model/optimizers.js';
import { initParameters, parameterShapes } from '../src/model/parameters.js';
import type { ModelSpec, PreprocessingSpec } from '../src/model/spec.js';
import { trainOnBatch } from '../src/model/trainer.js';
import { prepareRows } from '../src/pipeline/preprocess.js';

/** What one thread of the ceiling does. */
export interface CeilingWork {
  readonly path: string;
  readonly spans: BatchSpan[];
  readonly schema: Schema;
  readonly preprocessing: PreprocessingSpec;
  readonly spec: ModelSpec;
  readonly epochs: number;
  readonly minibatch: number;
  readonly barrier?: {
    readonly state: SharedArrayBuffer;
    readonly parties: number;
    readonly every: number;
    readonly rounds: number;
  };
}

/** Waits until every party has arrived: [0] counts arrivals, [1] is the generation. */
function meet(state: Int32Array, parties: number): void {
  const generation = Atomics.load(state, 1);
  if (Atomics.add(state, 0, 1) === parties - 1) {
    Atomics.store(state, 0, 0);
    Atomics.add(state, 1, 1);
    Atomics.notify(state, 1);
  } else {
    while (Atomics.load(state, 1) === generation) Atomics.wait(state, 1, generation);
  }
}

/** Does the work; resolves to the ms it took. */
export async function ceilingWork(work: CeilingWork): Promise<number> {
  const { path, spans, schema, preprocessing, spec, epochs, minibatch, barrier } = work;
  const meeting = barrier && new Int32Array(barrier.state);
  const source = new CsvSource(path);
  const split = { seed: 42, fraction: 0.2 };
  const optimizer = { kind: 'adam', learningRate: 0.005, momentum: 0.9, l2: 1e-4 } as const;
  const t0 = performance.now();
  const batches: RawBatch[] = [];
  for (const span of spans)
    batches.push(
      await source.byteRanges.readSpan(schema, span, { batchRows: span.rows, onBadRow: 'error' }),
    );
  const params = initParameters(spec, 1);
  const optState = createOptimizerState('adam', parameterShapes(spec));
  for (let e = 0; e < epochs; e++) {
    let met = 0;
    for (const [i, batch] of batches.entries()) {
      if (meeting && i > 0 && i % barrier!.every === 0) {
        meet(meeting, barrier!.parties);
        met++;
      }
      const rows = prepareRows(batch, preprocessing, split, 'train');
      await trainOnBatch({
        spec,
        params,
        optState,
        optimizer,
        x: rows.x,
        y: rows.y,
        rows: rows.rows,
        minibatch,
        seed: e,
      });
    }
    // The last round of an epoch: a thread whose share is a batch short still meets as often as
    // the others (every thread meets `rounds` times an epoch), so the next epoch starts together.
    for (; meeting && met < barrier!.rounds; met++) meet(meeting, barrier!.parties);
  }
  return performance.now() - t0;
}
