/**
 * Library errors name options (`options.maxBatchSize`); the command line names flags
 * (`--max-batch-size`). This maps one to the other where an `InvalidOptionError` is printed.
 *
 * @module
 */
import { InvalidOptionError } from '../errors.js';

/** Options whose flag is not simply their name in kebab case. */
const kFlagOf: Readonly<Record<string, string>> = {};

/** The flag of an option: `maxBatchSize` → `--max-batch-size`. */
export function flagOf(option: string): string {
  return kFlagOf[option] ?? `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** The message of an error as the command line shows it: option names become flag names. */
export function messageForCli(err: Error): string {
  if (err instanceof InvalidOptionError && err.option !== undefined && !err.option.includes('.')) {
    return err.message.replaceAll(`options.${err.option}`, flagOf(err.option));
  }
  return err.message;
}
