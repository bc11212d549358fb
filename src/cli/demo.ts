/**
 * `mlscale demo` (what `npm start` runs): the main job on embedded defaults, with no services —
 * train on the shipped digits sample with the threads executor and say where the model went.
 *
 * @module
 */
import { parseFlags, textFlag } from './args.js';
import { trainCommand } from './train.js';

const help = `Usage: mlscale demo [--out DIR]

Trains an MLP on the shipped handwritten digits sample (1,797 rows, 64 features, 10 classes)
with the threads executor, prints the held-out metrics and writes the model (default runs/digits).`;

/** Runs the quick start. */
export async function demoCommand(argv: string[]): Promise<number> {
  const v = parseFlags('demo', argv, { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (v.help) {
    process.stdout.write(help + '\n');
    return 0;
  }
  const out = textFlag(v.out) ?? 'runs/digits';
  // Small pipeline batches so that the two threads share the 1,797 rows.
  return trainCommand(['--data', 'sample:digits', '--executor', 'threads', '--batch-size', '512', '--out', out]);
}
