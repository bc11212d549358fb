/**
 * The fingerprint a checkpoint carries: a run resumes only with the same data and settings.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { DataSource } from '../data/types.js';
import type { TrainingOptions } from './options.js';

/**
 * The options that change what a run computes, in the order they are hashed. Left out: where
 * things go and how a pass is stored (such as out, cache and resume), which a resumed run may change.
 */
const kFingerprintOptions = [
  'data',
  'label',
  'task',
  'batchSize',
  'syncEvery',
  'epochs',
  'minibatch',
  'model',
  'hidden',
  'activation',
  'optimizer',
  'learningRate',
  'momentum',
  'l2',
  'seed',
  'holdout',
  'maxCategories',
  'onBadRow',
  'stages',
  'naValues',
  'categorical',
  'numeric',
] as const satisfies readonly (keyof TrainingOptions)[];

/** What a checkpoint must agree on with the run that resumes it. */
export function runFingerprint(source: DataSource, o: Readonly<TrainingOptions>): string {
  const settings = {
    source: source.description,
    ...Object.fromEntries(kFingerprintOptions.map((key) => [key, o[key]])),
  };
  return createHash('sha256').update(JSON.stringify(settings)).digest('hex');
}
