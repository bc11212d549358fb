/**
 * The fingerprint a checkpoint carries: a run resumes only with the same data and settings.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { DataSource } from '../data/types.js';
import type { TrainingOptions } from './options.js';

/** What a checkpoint must agree on with the run that resumes it. */
export function runFingerprint(source: DataSource, o: Readonly<TrainingOptions>): string {
  const {
    data,
    label,
    task: t,
    batchSize,
    syncEvery,
    epochs,
    minibatch,
    model,
    hidden,
    activation,
    optimizer,
    learningRate,
    momentum,
    l2,
    seed,
    holdout,
    maxCategories,
    onBadRow,
    stages,
    naValues,
    categorical,
    numeric,
  } = o;
  const settings = {
    source: source.description,
    data,
    label,
    task: t,
    batchSize,
    syncEvery,
    epochs,
    minibatch,
    model,
    hidden,
    activation,
    optimizer,
    learningRate,
    momentum,
    l2,
    seed,
    holdout,
    maxCategories,
    onBadRow,
    stages,
    naValues,
    categorical,
    numeric,
  };
  return createHash('sha256').update(JSON.stringify(settings)).digest('hex');
}
