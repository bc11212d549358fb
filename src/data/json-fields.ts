/**
 * Decoding of JSON values into row values, throwing the coded bad-row errors that name the file,
 * line and column. Null (or an absent key, passed as `undefined`) is missing; strings follow the
 * text rules of `text-fields.ts`; booleans are categories; objects and arrays are bad values.
 *
 * @module
 */
import { DataValueError } from '../errors.js';
import { fitsFloat32 } from './field-values.js';
import { kDefaultNa, type NaValues } from './na-values.js';
import { categoryFromText, labelFromText, missingLabel, numericFromText } from './text-fields.js';
import type { Task } from './types.js';

/** Longest JSON excerpt quoted in a message (characters). */
const kMaxExcerpt = 60;

/**
 * Names the JSON type of a value, for messages.
 *
 * @param value - A parsed JSON value.
 */
export function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** A short quote of a JSON value; a value nested too deeply to serialise is described instead. */
function excerptJson(value: unknown): string {
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch {
    // JSON.stringify recurses: a value nested thousands deep overflows the stack (RangeError).
    return `${describeJson(value)} nested too deeply to quote`;
  }
  return json.length > kMaxExcerpt ? `${json.slice(0, kMaxExcerpt)}...` : json;
}

function badValue(file: string, line: number, column: string, value: unknown): never {
  let why: string;
  if (typeof value === 'number') {
    // JSON.parse turns numbers beyond float64 into Infinity.
    why = `value ${value} is outside the float32 range`;
  } else {
    why = `${describeJson(value)} is not allowed here, got ${excerptJson(value)}`;
  }
  throw new DataValueError(`${file}:${line}: column '${column}': ${why}`);
}

/**
 * Reads a numeric feature value.
 *
 * @returns The number, or NaN when missing.
 * @throws DataValueError for a non-number, a string that is not a number, or a number beyond
 *   float32.
 */
export function numericFromJson(
  value: unknown,
  file: string,
  line: number,
  column: string,
  na: NaValues = kDefaultNa,
): number {
  if (value === null || value === undefined) return NaN;
  if (typeof value === 'number' && fitsFloat32(value)) return value;
  if (typeof value === 'string') return numericFromText(value, file, line, column, na);
  return badValue(file, line, column, value);
}

/**
 * Reads a categorical feature value; numbers and booleans become their string form.
 *
 * @returns The category, or `undefined` when missing.
 * @throws DataValueError for an object or array.
 */
export function categoryFromJson(
  value: unknown,
  file: string,
  line: number,
  column: string,
  na: NaValues = kDefaultNa,
): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return categoryFromText(value, na);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return badValue(file, line, column, value);
}

/**
 * Reads a label: a class name for classification (numbers as `String(n)`, so `1.0` is `'1'`), a
 * number for regression.
 *
 * @throws DataValueError when the label is missing or not allowed for the task.
 */
export function labelFromJson(
  value: unknown,
  task: Task,
  file: string,
  line: number,
  column: string,
  na: NaValues = kDefaultNa,
): string | number {
  if (value === null || value === undefined) return missingLabel(file, line, column);
  if (typeof value === 'string') return labelFromText(value, task, file, line, column, na);
  if (task === 'regression') {
    if (typeof value === 'number' && fitsFloat32(value)) return value;
  } else if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') {
    return String(value);
  }
  return badValue(file, line, column, value);
}
