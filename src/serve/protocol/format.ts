/**
 * How request values appear in error messages: short, quoted where JSON would quote them, and never
 * the whole of a large array (a bad request must not produce a megabyte-long error body).
 *
 * @module
 */

const maxStringLength = 40;

/** `value` as a message shows it: `"abc"`, `12`, `true`, `null`, `an array`, `an object`, `nothing`. */
export function formatValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    const short = value.length > maxStringLength ? value.slice(0, maxStringLength) + '…' : value;
    return JSON.stringify(short);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** A shape as messages show it: `[-1, 64]`. */
export function formatShape(shape: readonly unknown[]): string {
  return `[${shape.map((d) => (typeof d === 'number' ? String(d) : formatValue(d))).join(', ')}]`;
}

/** Names as a list for messages: `"x", "y"`. */
export function formatNames(names: readonly string[]): string {
  return names.map((n) => JSON.stringify(n)).join(', ');
}
