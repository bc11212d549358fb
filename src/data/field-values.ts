/**
 * How a text value becomes a number, a category or a missing value. CSV fields and string values
 * of JSON Lines follow the same rules, so one dataset reads the same in either format:
 *
 * - **Missing**: the empty string and the missing-value tokens (`na-values.ts`: pandas' list by
 *   default — `NA`, `NaN`, `nan`, `NULL`, `None`, `#N/A`, ...), ignoring surrounding whitespace.
 * - **Number**: a decimal literal with optional sign, fraction and exponent (`-1`, `2.5`, `.5`,
 *   `1e-3`), surrounding whitespace allowed. Hex, binary and `1_000` are not numbers, so a column
 *   holding them is categorical rather than silently reinterpreted.
 * - **Non-finite literals** that are not missing-value tokens (`Inf`, `Infinity`, any case and
 *   sign; `NaN` too when a custom token list leaves it out) are never accepted as values: they
 *   usually mark a failed computation upstream, and an infinite feature would poison training.
 *   During schema inference they count as numeric, so the column stays numeric and the row is
 *   reported when batches are read.
 * - Numbers must fit in float32, since batches hold `Float32Array`s.
 *
 * @module
 */

import { kDefaultNa, type NaValues } from './na-values.js';

const kNumberPattern = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
const kNonFinitePattern = /^\s*[+-]?(?:nan|inf|infinity)\s*$/i;

/**
 * True when a text value means "missing": empty, or a missing-value token, ignoring surrounding
 * whitespace.
 *
 * @param text - The raw value.
 * @param na - The tokens (pandas' by default).
 */
export function isMissingText(text: string, na: NaValues = kDefaultNa): boolean {
  return na.isMissing(text);
}

/**
 * True when a text value is a decimal number literal (finite or not, in range or not).
 *
 * @param text - The raw value.
 */
export function isNumberText(text: string): boolean {
  return kNumberPattern.test(text);
}

/**
 * True when a text value spells NaN or an infinity.
 *
 * @param text - The raw value.
 */
export function isNonFiniteText(text: string): boolean {
  return kNonFinitePattern.test(text);
}

/**
 * True when a number fits a float32 slot without becoming infinite.
 *
 * @param value - The number.
 */
export function fitsFloat32(value: number): boolean {
  return Number.isFinite(Math.fround(value));
}

/**
 * Reads a numeric value.
 *
 * @param text - The raw value.
 * @param na - The missing-value tokens.
 * @returns NaN when missing; the number when it is a finite, float32-representable decimal;
 *   `undefined` when the value is not allowed in a numeric column (see {@link describeBadNumber}).
 */
export function readNumberText(text: string, na: NaValues = kDefaultNa): number | undefined {
  if (na.isMissing(text)) return NaN;
  if (!kNumberPattern.test(text)) return undefined;
  const value = Number(text);
  return fitsFloat32(value) ? value : undefined;
}

/**
 * Explains why a value was refused by {@link readNumberText}, for error messages.
 *
 * @param text - The refused value.
 */
export function describeBadNumber(text: string): string {
  if (isNonFiniteText(text)) {
    return `non-finite value '${text}' is not allowed (leave the field empty, or write NA or nan, for a missing value)`;
  }
  if (kNumberPattern.test(text)) return `value '${text}' is outside the float32 range`;
  return `expected a number, got '${text}'`;
}

/**
 * The class name of a classification label, or `undefined` when the label is missing or a
 * non-finite literal. Numeric labels are canonicalised (`1.0` and `1` are both class `'1'`) so
 * that CSV text and JSON numbers name the same classes; other labels are kept verbatim.
 *
 * @param text - The raw label.
 * @param na - The missing-value tokens.
 */
export function classLabelText(text: string, na: NaValues = kDefaultNa): string | undefined {
  if (na.isMissing(text) || kNonFinitePattern.test(text)) return undefined;
  if (kNumberPattern.test(text)) {
    const value = Number(text);
    if (Number.isFinite(value)) return String(value);
  }
  return text;
}
