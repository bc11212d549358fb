/**
 * Missing-value tokens: the strings that mean "no value" in a text field, as users' files write
 * them. The default list is pandas' (`pandas.read_csv`'s `STR_NA_VALUES`), so a file written by
 * pandas, numpy (`nan`), R (`NA`), a spreadsheet (`#N/A`) or a database export (`NULL`) reads here
 * as it reads there.
 *
 * Two rules on top of the list: the empty field (or one of spaces only) is always missing, since
 * no column can read it as a value; and tokens match the field with surrounding whitespace
 * removed, as numbers do (`field-values.ts`). Infinity is not a missing value: `inf` stays an
 * error in a numeric column (it usually marks a failed computation upstream).
 *
 * @module
 */

/** pandas' default NA tokens (pandas 1.5–2.2 `pandas._libs.parsers.STR_NA_VALUES`), empty string aside. */
export const kDefaultNaValues: readonly string[] = Object.freeze([
  '#N/A',
  '#N/A N/A',
  '#NA',
  '-1.#IND',
  '-1.#QNAN',
  '-NaN',
  '-nan',
  '1.#IND',
  '1.#QNAN',
  '<NA>',
  'N/A',
  'NA',
  'NULL',
  'NaN',
  'None',
  'n/a',
  'nan',
  'null',
]);

/** A set of missing-value tokens, matched against trimmed text. */
export class NaValues {
  /** The tokens, in the order given (for messages and metadata). */
  readonly tokens: readonly string[];
  readonly #set: ReadonlySet<string>;
  /** Longest token, in UTF-16 units: longer fields skip the set look-up. */
  readonly #longest: number;
  /**
   * Longest token that reads as a number (`-999`), 0 when none does: a parser that reads numbers
   * straight from bytes must check fields up to this long against the tokens first.
   */
  readonly numericTokenLength: number;

  /** @param tokens - Strings that mean "missing" (the empty string always does). */
  constructor(tokens: readonly string[]) {
    this.tokens = Object.freeze([...tokens]);
    this.#set = new Set(tokens.map((t) => t.trim()).filter((t) => t.length > 0));
    this.#longest = Math.max(0, ...[...this.#set].map((t) => t.length));
    const numeric = [...this.#set].filter((t) =>
      /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(t),
    );
    this.numericTokenLength = Math.max(0, ...numeric.map((t) => Buffer.byteLength(t)));
  }

  /**
   * True when `text` means missing: empty, spaces only, or a token (surrounding whitespace ignored).
   *
   * @param text - The raw value.
   */
  isMissing(text: string): boolean {
    if (text.length === 0) return true;
    const first = text.charCodeAt(0);
    const last = text.charCodeAt(text.length - 1);
    // Most values have no surrounding whitespace: trim only when they do.
    const trimmed = first <= 32 || last <= 32 ? text.trim() : text;
    return trimmed.length === 0 || (trimmed.length <= this.#longest && this.#set.has(trimmed));
  }
}

/** The default tokens as a set, shared by every reader that is given none. */
export const kDefaultNa = new NaValues(kDefaultNaValues);

const cache = new Map<string, NaValues>();

/**
 * The token set for a list (the default when `tokens` is undefined), built once per distinct list
 * in a thread: readers call this per batch.
 *
 * @param tokens - The tokens, or undefined for pandas' defaults.
 */
export function naValuesOf(tokens: readonly string[] | undefined): NaValues {
  if (tokens === undefined || tokens === kDefaultNaValues) return kDefaultNa;
  const key = JSON.stringify(tokens);
  let na = cache.get(key);
  if (na === undefined) cache.set(key, (na = new NaValues(tokens)));
  return na;
}
