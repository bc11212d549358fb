/**
 * The `synthetic:` data spec: parsing, validation and defaults.
 *
 * Syntax: `synthetic:key=value,key=value,...`, e.g.
 * `synthetic:rows=1000000,features=32,classes=4,seed=7`. Keys:
 *
 * - `rows`: number of rows, 1 to 2^53 - 1 (default 10000).
 * - `features`: feature columns `f0..f{n-1}`, 1 to 10000 (default 8).
 * - `classes`: number of classes, 2 to 1000, or 0 for regression (default 2).
 * - `task`: `classification` or `regression`; `task=regression` implies classes=0 (default: from
 *   `classes`).
 * - `seed`: integer seed, 0 to 2^32 - 1 (default 0).
 * - `noise` (default 0.1): classification, the share of labels replaced by a random class (0 to
 *   1); regression, the standard deviation of the Gaussian noise added to the target (0 to 100).
 * - `informative`: features that carry signal, 1 to `features`; the rest is noise (default
 *   min(features, 8)).
 *
 * Integers may use `_` between digit groups (`rows=1_000_000`).
 *
 * @module
 */
import { InvalidOptionError } from '../errors.js';
import type { Task } from './types.js';

/** A validated synthetic dataset description, with every default filled in. */
export interface SyntheticSpec {
  readonly rows: number;
  readonly features: number;
  /** Number of classes; 0 for regression. */
  readonly classes: number;
  readonly task: Task;
  readonly seed: number;
  readonly noise: number;
  readonly informative: number;
}

/** The `synthetic:` prefix. */
export const kSyntheticPrefix = 'synthetic:';

/** Default values of the spec keys (`informative` defaults to min(features, 8)). */
export const kDefaultSyntheticSpec = Object.freeze({
  rows: 10_000,
  features: 8,
  classes: 2,
  seed: 0,
  noise: 0.1,
  /** Upper bound of the default number of informative features. */
  informative: 8,
});

const kKeys = ['rows', 'features', 'classes', 'task', 'seed', 'noise', 'informative'] as const;
type Key = (typeof kKeys)[number];

const kMaxFeatures = 10_000;
const kMaxClasses = 1000;
const kMaxSeed = 2 ** 32 - 1;
const kMaxRegressionNoise = 100;

function fail(key: string, expected: string, given: string): never {
  throw new InvalidOptionError(`synthetic spec key '${key}' must be ${expected}, got '${given}'`);
}

function integer(key: Key, text: string, min: number, max: number, expected?: string): number {
  const value = /^\d+(?:_\d+)*$/.test(text) ? Number(text.replaceAll('_', '')) : NaN;
  if (!(value >= min && value <= max) || !Number.isSafeInteger(value)) {
    fail(key, expected ?? `an integer from ${min} to ${max}`, text);
  }
  return value;
}

/**
 * Parses and validates a synthetic spec.
 *
 * @param text - The spec, with or without the `synthetic:` prefix.
 * @returns The frozen spec.
 * @throws InvalidOptionError naming the key, what was expected and what was given.
 * @example
 * parseSyntheticSpec('synthetic:rows=1000,features=4,task=regression');
 */
export function parseSyntheticSpec(text: string): SyntheticSpec {
  const body = text.startsWith(kSyntheticPrefix) ? text.slice(kSyntheticPrefix.length) : text;
  const given = new Map<Key, string>();
  for (const part of body.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) {
      throw new InvalidOptionError(
        `synthetic spec entry '${part}' is not key=value; expected e.g. synthetic:rows=1000,features=8`,
      );
    }
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!(kKeys as readonly string[]).includes(key)) {
      throw new InvalidOptionError(
        `synthetic spec key '${key}' is unknown; expected one of ${kKeys.join(', ')}`,
      );
    }
    if (given.has(key as Key)) {
      throw new InvalidOptionError(`synthetic spec key '${key}' is given twice`);
    }
    given.set(key as Key, value);
  }

  const rows = given.has('rows')
    ? integer('rows', given.get('rows')!, 1, Number.MAX_SAFE_INTEGER)
    : kDefaultSyntheticSpec.rows;
  const features = given.has('features')
    ? integer('features', given.get('features')!, 1, kMaxFeatures)
    : kDefaultSyntheticSpec.features;
  const seed = given.has('seed')
    ? integer('seed', given.get('seed')!, 0, kMaxSeed)
    : kDefaultSyntheticSpec.seed;

  let classes: number | undefined;
  if (given.has('classes')) {
    classes = integer(
      'classes',
      given.get('classes')!,
      0,
      kMaxClasses,
      `0 (regression) or an integer from 2 to ${kMaxClasses}`,
    );
    if (classes === 1) {
      fail('classes', `0 (regression) or an integer from 2 to ${kMaxClasses}`, '1');
    }
  }
  let task: Task;
  const taskText = given.get('task');
  if (taskText === undefined) {
    classes ??= kDefaultSyntheticSpec.classes;
    task = classes === 0 ? 'regression' : 'classification';
  } else if (taskText === 'regression') {
    if (classes !== undefined && classes !== 0) {
      fail('classes', '0 or absent with task=regression', String(classes));
    }
    classes = 0;
    task = 'regression';
  } else if (taskText === 'classification') {
    if (classes === 0) {
      fail('classes', `an integer from 2 to ${kMaxClasses} with task=classification`, '0');
    }
    classes ??= kDefaultSyntheticSpec.classes;
    task = 'classification';
  } else {
    fail('task', 'classification or regression', taskText);
  }

  let noise: number = kDefaultSyntheticSpec.noise;
  const noiseText = given.get('noise');
  if (noiseText !== undefined) {
    const max = task === 'classification' ? 1 : kMaxRegressionNoise;
    const what =
      task === 'classification'
        ? 'a number from 0 to 1 (share of labels replaced by a random class)'
        : `a number from 0 to ${max} (standard deviation of the target noise)`;
    noise = /^\d*\.?\d+(?:[eE][+-]?\d+)?$|^\d+\.$/.test(noiseText) ? Number(noiseText) : NaN;
    if (!(noise >= 0 && noise <= max)) fail('noise', what, noiseText);
  }

  const informative = given.has('informative')
    ? integer('informative', given.get('informative')!, 1, features)
    : Math.min(features, kDefaultSyntheticSpec.informative);

  return Object.freeze({ rows, features, classes, task, seed, noise, informative });
}
