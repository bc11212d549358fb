/**
 * Library errors name options (`options.maxBatchSize`); the command line names flags
 * (`--max-batch-size`). This maps one to the other where an `InvalidOptionError` is printed.
 *
 * @module
 */
import { InvalidOptionError } from '../errors.js';

/** Options whose flag is not simply their name in kebab case. */
const kFlagOf: Readonly<Record<string, string>> = {};

/**
 * Option groups whose members are each a flag of their own name: `options.autoscaler.minReplicas`
 * is `--min-replicas`, `options.modelOverrides.maxBatchSize` is `--max-batch-size`.
 */
const kFlagGroups: readonly string[] = ['autoscaler', 'modelOverrides'];
const kOptionName = new RegExp(
  `\\boptions\\.(?:(?:${kFlagGroups.join('|')})\\.)?([a-zA-Z][a-zA-Z0-9]*)\\b(?!\\.)`,
  'g',
);

/** The flag of an option: `maxBatchSize` → `--max-batch-size`. */
export function flagOf(option: string): string {
  return kFlagOf[option] ?? `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * The message of an error as the command line shows it: every option it names
 * (`options.executor`) becomes that option's flag (`--executor`).
 */
export function messageForCli(err: Error): string {
  if (!(err instanceof InvalidOptionError)) return err.message;
  return err.message.replace(kOptionName, (_, name: string) => flagOf(name));
}
