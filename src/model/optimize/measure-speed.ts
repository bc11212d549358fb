/**
 * Rows per second of a model and its variants, measured side by side: the same inputs, the same
 * session settings, blocks of runs interleaved (the original, then each variant, in an order
 * that rotates every repeat) so that a noisy neighbour slows them alike, and medians over the
 * repeats. A variant's speed-up is the median of its per-repeat ratios to the original, which
 * cancels drifts that hit both within a repeat.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import type ort from 'onnxruntime-node';
import type { Feeds } from './model-inputs.js';

/** What to measure and for how long. */
export interface SpeedOptions {
  /** Rows per run: batch 1 (latency-bound serving) and the serving batch. */
  readonly batchSizes: readonly number[];
  /** Interleaved repeats; the median is reported. */
  readonly repeats: number;
  /** Each model runs back to back for about this long per repeat (ms). */
  readonly blockMs: number;
}

/** One model's speed at one batch size. */
export interface SpeedPoint {
  readonly batch: number;
  /** Median rows/s over the repeats. */
  readonly rowsPerS: number;
  /** Median over the repeats of (this model's rows/s ÷ the original's in the same repeat); 1 for the original. */
  readonly ratio: number;
  /** That ratio in each repeat, in order. */
  readonly ratios: readonly number[];
}

/** Per model name (the first is the original), its speed at each batch size. */
export type SpeedTable = Map<string, SpeedPoint[]>;

/** A model to time. */
export interface TimedModel {
  readonly name: string;
  readonly session: ort.InferenceSession;
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function block(
  session: ort.InferenceSession,
  feeds: Feeds,
  ms: number,
): Promise<{ runs: number; ms: number }> {
  let runs = 0;
  const start = performance.now();
  let elapsed = 0;
  // At least 3 runs, so that a slow model still gives a rate and not one run's jitter.
  do {
    await session.run(feeds);
    runs++;
    elapsed = performance.now() - start;
  } while (elapsed < ms || runs < 3);
  return { runs, ms: elapsed };
}

/**
 * Measures every model at every batch size.
 * @param models The original first, then the variants.
 * @param feedsFor The inputs of one run of `batch` rows (the same object for every model).
 */
export async function measureSpeeds(
  models: readonly TimedModel[],
  feedsFor: (batch: number) => Feeds,
  options: SpeedOptions,
): Promise<SpeedTable> {
  const table: SpeedTable = new Map(models.map((m) => [m.name, []]));
  for (const batch of options.batchSizes) {
    const feeds = feedsFor(batch);
    // Warm-up: the first runs allocate, pre-pack weights and fault pages in.
    for (const m of models) for (let i = 0; i < 3; i++) await m.session.run(feeds);
    const rates = models.map(() => [] as number[]);
    for (let r = 0; r < options.repeats; r++) {
      for (let j = 0; j < models.length; j++) {
        const i = (j + r) % models.length;
        const { runs, ms } = await block(models[i]!.session, feeds, options.blockMs);
        rates[i]!.push((runs * batch * 1000) / ms);
      }
    }
    models.forEach((m, i) => {
      const ratios = rates[i]!.map((x, r) => x / rates[0]![r]!);
      table
        .get(m.name)!
        .push({ batch, rowsPerS: median(rates[i]!), ratio: median(ratios), ratios });
    });
  }
  return table;
}

/** Median milliseconds to create a session from the bytes (what a server pays per instance at start). */
export async function measureLoad(
  create: () => Promise<ort.InferenceSession>,
  repeats: number,
): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    const session = await create();
    times.push(performance.now() - start);
    await session.release();
  }
  return median(times);
}
