/**
 * Reading decimal numbers straight from bytes, for the CSV parser's fast path.
 *
 * The value equals `Number(text)` exactly: a decimal with at most 15 significant digits and a
 * power of ten up to 22 is computed as one correctly rounded multiplication or division of two
 * exact doubles (Clinger's fast path, as in V8's own `StringToDouble`); anything else is left to
 * the caller's text path (`NaN` here).
 *
 * @module
 */

const kDot = 46;
const kSpace = 32;
const kTab = 9;

/** Exact powers of ten as doubles: 1e0 to 1e22 (10^22 is the largest with an exact double). */
const kPow10 = Float64Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/** Where the last {@link fastNumber} stopped (a live binding: importers read it after each call). */
export let numberEnd = 0;

/**
 * Reads a decimal number at `buf[s, end)`, stopping at the first byte that cannot continue it.
 *
 * @returns The value (exactly `Number(text)`), or NaN when the fast path does not apply: not a
 *   plain decimal, more than 15 significant digits, or a power of ten beyond 22. `numberEnd` is
 *   where it stopped, trailing spaces skipped.
 */
export function fastNumber(buf: Uint8Array, s: number, end: number): number {
  let i = s;
  let c = buf[i]!;
  if (c === kSpace || c === kTab) {
    while (i < end && (buf[i] === kSpace || buf[i] === kTab)) i++;
    c = buf[i]!;
  }
  let negative = false;
  if (c === 45) {
    negative = true;
    i++;
  } else if (c === 43) i++;
  // One loop for the integer and fraction digits. Leading zeros leave m at 0 and are not
  // significant; past 15 significant digits m may be inexact, and the slow path takes over.
  let m = 0;
  let significant = 0;
  let fraction = -1; // digits after the point, -1 before it
  let digits = 0;
  for (; i < end; i++) {
    c = buf[i]!;
    const d = c - 48;
    if (d >= 0 && d <= 9) {
      m = m * 10 + d;
      if (m !== 0) significant++;
      digits++;
      if (fraction >= 0) fraction++;
    } else if (c === kDot && fraction < 0) {
      fraction = 0;
    } else break;
  }
  if (digits === 0 || significant > 15) return NaN;
  let exponent = fraction > 0 ? -fraction : 0;
  if (i < end && (c === 101 || c === 69)) {
    i++;
    let negativeExponent = false;
    c = buf[i]!;
    if (c === 45) {
      negativeExponent = true;
      i++;
    } else if (c === 43) i++;
    let e = 0;
    let expDigits = false;
    while (i < end) {
      const d = buf[i]! - 48;
      if (d < 0 || d > 9) break;
      i++;
      expDigits = true;
      if (e < 100_000) e = e * 10 + d;
    }
    if (!expDigits) return NaN;
    exponent += negativeExponent ? -e : e;
  }
  if (i < end && (buf[i] === kSpace || buf[i] === kTab))
    while (i < end && (buf[i] === kSpace || buf[i] === kTab)) i++;
  numberEnd = i;
  let value: number;
  if (m === 0 || exponent === 0) value = m;
  else if (exponent > 0) {
    if (exponent > 22) return NaN;
    value = m * kPow10[exponent]!;
  } else {
    if (exponent < -22) return NaN;
    value = m / kPow10[-exponent]!;
  }
  return negative ? -value : value;
}
