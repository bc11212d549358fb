import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers.js';

const { dir, cleanup } = await tempDir();
after(cleanup);

async function train(
  rows: number,
  cache: string[],
): Promise<{ rss: number; cache: { memoryBytes: number; totalBytes: number } }> {
  const r = await runCli(
    [
      'train',
      '--data',
      `synthetic:rows=${rows},features=8,classes=2,seed=1`,
      '--out',
      join(dir, `m${rows}`),
      '--model',
      'linear',
      '--epochs',
      '1',
      '--batch-size',
      '10000',
      '--minibatch',
      '1000',
      '--executor',
      'threads',
      '--workers',
      '2',
      '--json',
      ...cache,
    ],
    { timeoutMs: 180_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  return { rss: summary.memory.maxRssBytes as number, cache: summary.cache };
}

describe('pipeline streaming', () => {
  test('should keep peak memory flat from 1,000,000 to 3,000,000 rows with the batch cache on disk', async () => {
    // Below about 1M rows the heap is still growing to its steady size (measured: 160 MiB at 100k,
    // 237 MiB at 1M, 239 MiB at 3M rows with 2 threads), so the flat part is compared.
    const small = await train(1_000_000, ['--cache', 'disk']);
    const large = await train(3_000_000, ['--cache', 'disk']);
    // The 2M extra rows hold 64 MiB of float32 features alone; streaming must not keep them.
    assert.ok(
      large.rss < small.rss + 32 * 1024 * 1024,
      `peak RSS ${Math.round(small.rss / 2 ** 20)} MiB at 1M rows, ${Math.round(large.rss / 2 ** 20)} MiB at 3M rows`,
    );
    assert.equal(large.cache.memoryBytes, 0);
    assert.ok(large.cache.totalBytes > 3_000_000 * 36, 'every batch cached on disk');
  });

  test('should keep the memory cache within --cache-memory and put the rest on disk', async () => {
    const budget = 8 * 1024 * 1024;
    const { cache } = await train(1_000_000, ['--cache-memory', '8M']);
    assert.ok(
      cache.memoryBytes > 0 && cache.memoryBytes <= budget,
      `memory ${cache.memoryBytes} bytes, budget ${budget}`,
    );
    assert.ok(cache.totalBytes > cache.memoryBytes + 16 * 1024 * 1024, 'the rest on disk');
  });
});
