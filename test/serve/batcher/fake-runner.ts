/**
 * An in-process BatchRunner for the batcher tests: records every batch, and finishes it only when
 * the test says so (or after a fixed latency), so that tests control what is queued when. It
 * merges a batch's tensors and splits the outputs back, as a model instance does.
 *
 * Outputs: `double` is the input `x` times two (same shape); `sum` is each row's sum, [rows].
 * A request whose `fail` is set is answered with that error alone.
 *
 * @module
 */
import type { BatchRun, BatchRunner } from '../../../src/serve/batcher.js';
import { mergeRows, splitRows } from '../../../src/serve/protocol/split-merge.js';
import type { InferenceWork, Tensor } from '../../../src/serve/types.js';

/** A request for the fake model: tensors, the batcher's key, and an error to answer it with, if any. */
export interface TensorWork extends InferenceWork {
  readonly key: string;
  readonly fail?: Error;
}

/** One batch the runner was given. */
export interface RecordedBatch {
  readonly works: readonly TensorWork[];
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly string[];
  readonly rows: number;
  /** Answers the batch with the computed outputs. */
  finish(): void;
  /** Fails the batch with `err`. */
  fail(err: Error): void;
}

/** A fake model with `instances` slots; `latencyMs` undefined means batches wait for `finish()`. */
export class FakeRunner implements BatchRunner<TensorWork, Tensor[]> {
  readonly batches: RecordedBatch[] = [];
  readonly #listeners: (() => void)[] = [];
  #idle: number;
  readonly #latencyMs: number | undefined;

  constructor(options: { instances?: number; latencyMs?: number } = {}) {
    this.#idle = options.instances ?? 1;
    this.#latencyMs = options.latencyMs;
  }

  get idle(): number {
    return this.#idle;
  }

  onIdle(listener: () => void): void {
    this.#listeners.push(listener);
  }

  run(works: readonly TensorWork[]): Promise<BatchRun<Tensor[]>> {
    if (this.#idle <= 0) throw new Error('FakeRunner: run() called with no idle instance');
    this.#idle--;
    const good = works.filter((w) => w.fail === undefined);
    const inputs = good.length > 0 ? mergeRows(good.map((w) => w.inputs)) : [];
    const outputs = works[0]!.outputs;
    return new Promise<BatchRun<Tensor[]>>((resolve, reject) => {
      let done = false;
      const free = (): void => {
        done = true;
        this.#idle++;
        for (const listener of this.#listeners) listener();
      };
      const batch: RecordedBatch = {
        works,
        inputs,
        outputs,
        rows: good.reduce((n, w) => n + w.rows, 0),
        finish: () => {
          if (done) return;
          free();
          let parts: Tensor[][] = [];
          try {
            if (good.length > 0)
              parts = splitRows(
                compute(inputs, outputs),
                good.map((w) => w.rows),
                { copy: true },
              );
          } catch (err) {
            reject(err);
            return;
          }
          let k = 0;
          resolve({ results: works.map((w) => w.fail ?? parts[k++]!), rows: batch.rows });
        },
        fail: (err) => {
          if (done) return;
          free();
          reject(err);
        },
      };
      this.batches.push(batch);
      if (this.#latencyMs !== undefined) setTimeout(batch.finish, this.#latencyMs);
    });
  }

  /** Finishes every unfinished batch. */
  finishAll(): void {
    for (const b of this.batches) b.finish();
  }
}

function compute(inputs: readonly Tensor[], outputs: readonly string[]): Tensor[] {
  const x = inputs.find((t) => t.name === 'x')!;
  const data = x.data as Float32Array;
  const rows = x.shape[0]!;
  const width = data.length / rows;
  return outputs.map((name) => {
    if (name === 'double')
      return { name, datatype: 'FP32', shape: [...x.shape], data: data.map((v) => v * 2) };
    if (name === 'sum') {
      const sums = new Float32Array(rows);
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < width; c++) sums[r]! += data[r * width + c]!;
      return { name, datatype: 'FP32', shape: [rows], data: sums };
    }
    if (name === 'scalar')
      return { name, datatype: 'FP32', shape: [], data: new Float32Array([1]) };
    throw new Error(`FakeRunner: unknown output ${name}`);
  });
}
