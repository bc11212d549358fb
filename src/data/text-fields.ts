/**
 * Decoding of text values into row values, throwing the coded bad-row errors that name the file,
 * line and column. Used for CSV fields and for string values in JSON Lines.
 *
 * @module
 */
import { DataValueError } from '../errors.js';
import {
  classLabelText,
  describeBadNumber,
  isMissingText,
  readNumberText,
} from './field-values.js';
import { kDefaultNa, type NaValues } from './na-values.js';
import type { Task } from './types.js';

/**
 * Reads a numeric feature value.
 *
 * @param text - The raw value.
 * @param file - The data file, for messages.
 * @param line - The row's line, for messages.
 * @param column - Column name, for messages.
 * @param na - The missing-value tokens.
 * @returns The number, or NaN when missing.
 * @throws DataValueError when the value is not a finite float32 number.
 */
export function numericFromText(
  text: string,
  file: string,
  line: number,
  column: string,
  na: NaValues = kDefaultNa,
): number {
  const value = readNumberText(text, na);
  if (value === undefined) {
    throw new DataValueError(`${file}:${line}: column '${column}': ${describeBadNumber(text)}`);
  }
  return value;
}

/**
 * Reads a categorical feature value.
 *
 * @param text - The raw value.
 * @param na - The missing-value tokens.
 * @returns The value, or `undefined` when missing.
 */
export function categoryFromText(text: string, na: NaValues = kDefaultNa): string | undefined {
  return isMissingText(text, na) ? undefined : text;
}

/**
 * Throws the error for a row without a label.
 *
 * @param file - The data file.
 * @param line - The row's line.
 * @param column - Label column name.
 */
export function missingLabel(file: string, line: number, column: string): never {
  throw new DataValueError(`${file}:${line}: label column '${column}' has no value`);
}

/**
 * Reads a label: a class name for classification, a number for regression.
 *
 * @param text - The raw value.
 * @param task - The schema's task.
 * @param file - The data file, for messages.
 * @param line - The row's line, for messages.
 * @param column - Label column name, for messages.
 * @param na - The missing-value tokens.
 * @throws DataValueError when the label is missing, non-finite, or (regression) not a number.
 */
export function labelFromText(
  text: string,
  task: Task,
  file: string,
  line: number,
  column: string,
  na: NaValues = kDefaultNa,
): string | number {
  if (isMissingText(text, na)) missingLabel(file, line, column);
  if (task === 'classification') {
    const label = classLabelText(text, na);
    if (label === undefined) {
      throw new DataValueError(
        `${file}:${line}: label column '${column}': ${describeBadNumber(text)}`,
      );
    }
    return label;
  }
  const value = readNumberText(text, na);
  if (value === undefined) {
    throw new DataValueError(
      `${file}:${line}: label column '${column}': ${describeBadNumber(text)}`,
    );
  }
  return value;
}
