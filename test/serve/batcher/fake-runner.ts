/**
 * An in-process BatchRunner for the batcher tests: records every batch, and finishes it only when
 * the test says so (or after a fixed latency), so that tests control what is queued when.
 *
 * Outputs: `double` is the input `x` times two (same shape); `sum` is each row's sum, [rows].
 *
 * @module
 */
import type { BatchRunner, Tensor } from '../../../src/serve/types.js';

/** One batch the runner was given. */
export interface RecordedBatch {
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly string[];
  readonly rows: number;
  /** Answers the batch with the computed outputs. */
  finish(): void;
  /** Fails the batch with `err`. */
  fail(err: Error): void;
}

/** A fake model with `instances` slots; `latencyMs` undefined means batches wait for `finish()`. */
export class FakeRunner implements BatchRunner {
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

  run(inputs: readonly Tensor[], outputs: readonly string[]): Promise<Tensor[]> {
    if (this.#idle <= 0) throw new Error('FakeRunner: run() called with no idle instance');
    this.#idle--;
    return new Promise<Tensor[]>((resolve, reject) => {
      let done = false;
      const free = (): void => {
        done = true;
        this.#idle++;
        for (const listener of this.#listeners) listener();
      };
      const batch: RecordedBatch = {
        inputs,
        outputs,
        rows: inputs[0]!.shape[0]!,
        finish: () => {
          if (done) return;
          free();
          resolve(compute(inputs, outputs));
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
    if (name === 'double') return { name, datatype: 'FP32', shape: [...x.shape], data: data.map((v) => v * 2) };
    if (name === 'sum') {
      const sums = new Float32Array(rows);
      for (let r = 0; r < rows; r++) for (let c = 0; c < width; c++) sums[r]! += data[r * width + c]!;
      return { name, datatype: 'FP32', shape: [rows], data: sums };
    }
    if (name === 'scalar') return { name, datatype: 'FP32', shape: [], data: new Float32Array([1]) };
    throw new Error(`FakeRunner: unknown output ${name}`);
  });
}
