/**
 * The machine's own two-thread ceiling for `bench:pipeline`'s speedup section: the training
 * compute of one pipeline task (onnxruntime train steps and Adam over a fixed batch), with no
 * pipeline around it. Started as a worker thread; `workerData` = { hidden, features, classes,
 * rows, minibatch, repeats }; posts the milliseconds it took.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createOptimizerState } from '../src/model/optimizers.js';
import { initParameters, parameterShapes } from '../src/model/parameters.js';
import type { ModelSpec } from '../src/model/spec.js';
import { trainOnBatch } from '../src/model/trainer.js';

const { hidden, features, classes, rows, minibatch, repeats } = workerData as Record<
  string,
  number
> & { hidden: number[] };
const spec: ModelSpec = {
  family: 'mlp',
  task: 'classification',
  inputs: features,
  outputs: classes,
  hidden: hidden as unknown as number[],
  activation: 'relu',
};
const x = new Float32Array(rows * features).map((_, i) => ((i * 7919) % 1000) / 500 - 1);
const y = new Float32Array(rows * classes);
for (let r = 0; r < rows; r++) y[r * classes + (r % classes)] = 1;
const optimizer = { kind: 'adam', learningRate: 0.001, momentum: 0, l2: 0 } as const;

async function once(): Promise<void> {
  const params = initParameters(spec, 1);
  const optState = createOptimizerState('adam', parameterShapes(spec));
  await trainOnBatch({ spec, params, optState, optimizer, x, y, rows, minibatch, seed: 1 });
}

await once(); // warm-up: session creation and JIT
const t0 = performance.now();
for (let i = 0; i < repeats; i++) await once();
parentPort!.postMessage(performance.now() - t0);
