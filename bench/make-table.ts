/**
 * Writes a CSV table like a user's export, for `npm run bench:pipeline -- --only csv`:
 * `node dist/bench/make-table.js --rows 2000000 --out /tmp/table.csv [--gzip] [--seed 7]`.
 *
 * 20 numeric columns (mixed scales and precisions, some integer-valued), 2 categorical columns
 * (8 and 40 levels, skewed), a binary label; about 2% of feature values missing (empty fields, as
 * pandas' `to_csv` writes NaN). The label is a noisy non-linear function of the features, so a
 * linear model and an MLP both learn something and the MLP learns more (about 0.87 accuracy).
 * Rows are generated from a seeded PRNG: the same flags give the same bytes.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import { Prng } from '../src/model/prng.js';

/** Options of {@link writeTable}. */
export interface TableOptions {
  readonly rows: number;
  readonly out: string;
  readonly seed?: number;
  readonly gzip?: boolean;
}

/** Writes the table; resolves when the file is closed. */
export async function writeTable(options: TableOptions): Promise<void> {
  const rows = options.rows;
  const rng = new Prng(options.seed ?? 7);
  const kNumeric = 20;
  const kMissing = 0.02;
  const cities = ['paris', 'lyon', 'nice', 'lille', 'nantes', 'metz', 'brest', 'dijon'];
  const plans = Array.from({ length: 40 }, (_, i) => `plan_${String(i).padStart(2, '0')}`);
  // Per-column scale and decimals: features measured in different units, as real tables are.
  const scales = Array.from({ length: kNumeric }, (_, i) => [1, 10, 0.01, 1000, 3][i % 5]!);
  const decimals = Array.from({ length: kNumeric }, (_, i) =>
    i % 5 === 3 ? 0 : [4, 3, 6, 0, 5][i % 5]!,
  );
  const weights = Array.from({ length: kNumeric }, () => rng.nextFloat() * 2 - 1);
  const cityEffect = cities.map(() => rng.nextFloat() * 1.6 - 0.8);
  const planEffect = plans.map(() => rng.nextFloat() * 1.2 - 0.6);
  const gaussian = (): number => {
    const u = Math.max(rng.nextFloat(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.nextFloat());
  };
  const header =
    [...Array.from({ length: kNumeric }, (_, i) => `f${i}`), 'city', 'plan', 'churned'].join(',') +
    '\n';
  const file = createWriteStream(options.out);
  const sink = options.gzip ? createGzip({ level: 6 }) : undefined;
  if (sink) sink.pipe(file);
  const out = sink ?? file;
  const write = async (text: string): Promise<void> => {
    if (!out.write(text)) await once(out, 'drain');
  };
  await write(header);
  const x = new Float64Array(kNumeric);
  let chunk = '';
  for (let r = 0; r < rows; r++) {
    let z = 0;
    const fields: string[] = [];
    for (let i = 0; i < kNumeric; i++) {
      x[i] = gaussian();
      z += weights[i]! * x[i]!;
    }
    // Non-linear terms an MLP can learn and a linear model cannot.
    z += 1.2 * Math.sin(2 * x[0]!) + 0.8 * x[1]! * x[2]! - 0.6 * Math.abs(x[3]!);
    const city = Math.floor(Math.pow(rng.nextFloat(), 1.5) * cities.length);
    const plan = Math.floor(Math.pow(rng.nextFloat(), 2) * plans.length);
    z += cityEffect[city]! + planEffect[plan]!;
    const p = 1 / (1 + Math.exp(-2.2 * z));
    const label = rng.nextFloat() < p ? 1 : 0;
    for (let i = 0; i < kNumeric; i++) {
      fields.push(
        rng.nextFloat() < kMissing
          ? ''
          : (x[i]! * scales[i]! + (i % 5 === 3 ? 5000 : 0)).toFixed(decimals[i]!),
      );
    }
    fields.push(
      rng.nextFloat() < kMissing ? '' : cities[city]!,
      rng.nextFloat() < kMissing ? '' : plans[plan]!,
      String(label),
    );
    chunk += fields.join(',') + '\n';
    if (chunk.length > 1 << 16) {
      await write(chunk);
      chunk = '';
    }
  }
  await write(chunk);
  out.end();
  await once(file, 'close');
}

// Run as a script: node dist/bench/make-table.js --rows N --out FILE [--gzip] [--seed S]
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values: args } = parseArgs({
    options: {
      rows: { type: 'string', default: '2000000' },
      out: { type: 'string' },
      seed: { type: 'string', default: '7' },
      gzip: { type: 'boolean', default: false },
    },
  });
  if (args.out === undefined) throw new Error('--out FILE is required');
  await writeTable({
    rows: Number(args.rows),
    out: args.out,
    seed: Number(args.seed),
    gzip: args.gzip === true,
  });
}
