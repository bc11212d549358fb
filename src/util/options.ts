/**
 * The checks every options object makes at its public boundary, written once. A failed check
 * throws `InvalidOptionError` naming the option as a library caller wrote it
 * (`options.batchSize must be an integer from 1 to 16777216, got -5`) and carrying its name, so
 * the command line can show its flag instead (`--batch-size ...`, see `cli/flag-names.ts`).
 *
 * @module
 */
import { InvalidOptionError } from '../errors.js';

/** The object without its undefined entries, so that spreading it over defaults keeps them. */
export function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** How a given value shows in a message: JSON where it has one. */
export function showValue(given: unknown): string {
  return JSON.stringify(given) ?? String(given);
}

/**
 * Throws the error for an option whose value is not allowed.
 *
 * @param option - The option's name (`batchSize`, or a path such as `size.instances`).
 * @param expected - What it must be, e.g. `an integer from 1 to 64`.
 * @param given - What it is.
 */
export function invalidOption(option: string, expected: string, given: unknown): never {
  throw new InvalidOptionError(`options.${option} must be ${expected}, got ${showValue(given)}`, {
    option,
  });
}

/** Checks an integer in [min, max]. */
export function checkInteger(option: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    invalidOption(option, `an integer from ${min} to ${max}`, value);
}

/** Checks a finite number in [min, max]. */
export function checkNumber(option: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max)
    invalidOption(option, `a number from ${min} to ${max}`, value);
}

/** Checks a finite number above 0. */
export function checkPositive(option: string, value: unknown): void {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value))
    invalidOption(option, 'a positive number', value);
}

/** Checks one of a list of strings; `optional` lets undefined through. */
export function checkOneOf(
  option: string,
  value: unknown,
  allowed: readonly string[],
  optional = false,
): void {
  if (optional && value === undefined) return;
  if (typeof value !== 'string' || !allowed.includes(value))
    invalidOption(option, `one of ${allowed.join(', ')}`, value);
}
