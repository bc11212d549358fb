/**
 * The machine's own ceiling for `bench:pipeline`'s CSV section: the same per-batch work as the
 * pipeline (read a byte range, parse it, then each epoch preprocess and train on it), done by a
 * bare worker thread with no pipeline around it. Run once in one thread over every batch, then in
 * two threads at once over half each: the ratio is what two threads can give this work here.
 *
 * `workerData` = { path, spans, schema, preprocessing, spec, epochs, minibatch }; posts the ms taken.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CsvSource } from '../src/data/csv-source.js';
import type { BatchSpan, RawBatch, Schema } from '../src/data/types.js';
import { createOptimizerState } from '../src/model/optimizers.js';
import { initParameters, parameterShapes } from '../src/model/parameters.js';
import type { ModelSpec, PreprocessingSpec } from '../src/model/spec.js';
import { trainOnBatch } from '../src/model/trainer.js';
import { prepareRows } from '../src/pipeline/preprocess.js';

const { path, spans, schema, preprocessing, spec, epochs, minibatch } = workerData as {
  path: string;
  spans: BatchSpan[];
  schema: Schema;
  preprocessing: PreprocessingSpec;
  spec: ModelSpec;
  epochs: number;
  minibatch: number;
};
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
  for (const batch of batches) {
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
}
parentPort!.postMessage(performance.now() - t0);
