/**
 * Machine sizes and their prices: labels like `2cpu` name a CPU count, and `--price
 * 2cpu=0.10/h,8cpu=0.38/h` gives each a price per hour.
 *
 * @module
 */
import { InvalidOptionError } from '../errors.js';

const kLabel = /^([1-9]\d{0,3})cpu$/;

/** The CPU count a size label names (`8cpu` → 8), or undefined when the label is not of that form. */
export function labelCpus(label: string): number | undefined {
  const m = kLabel.exec(label);
  return m ? Number(m[1]) : undefined;
}

/**
 * Checks a price table (label → price per hour): labels must be `<N>cpu`, prices finite and ≥ 0.
 *
 * @throws RangeError naming the label and what was expected
 */
export function checkPrices(prices: Readonly<Record<string, number>>): void {
  if (typeof prices !== 'object' || prices === null)
    throw new TypeError(
      `options.prices must be an object of label → price per hour, got ${JSON.stringify(prices)}`,
    );
  for (const [label, price] of Object.entries(prices)) {
    if (labelCpus(label) === undefined)
      throw new RangeError(
        `options.prices: the label must be <N>cpu (a CPU count, e.g. 8cpu), got ${JSON.stringify(label)}`,
      );
    if (typeof price !== 'number' || !Number.isFinite(price) || price < 0) {
      throw new RangeError(
        `options.prices["${label}"] must be a price per hour ≥ 0, got ${JSON.stringify(price)}`,
      );
    }
  }
}

/**
 * Parses `--price 2cpu=0.10/h,8cpu=0.38/h` (the `/h` and a leading `$` are optional).
 *
 * @throws InvalidOptionError naming the item, what was expected and what was given
 */
export function parsePrices(text: string): Record<string, number> {
  const prices: Record<string, number> = {};
  const items = text.split(',');
  items.forEach((raw, i) => {
    const item = raw.trim();
    const where = items.length > 1 ? `--price item ${i + 1} ` : '--price ';
    const m = /^([^=]*)=\s*\$?([^/]*?)\s*(\/\s*h(our)?)?$/.exec(item);
    if (!m)
      throw new InvalidOptionError(
        `${where}must be <N>cpu=<price per hour>, e.g. 8cpu=0.38/h, got ${JSON.stringify(item)}`,
      );
    const label = m[1]!.trim();
    if (labelCpus(label) === undefined)
      throw new InvalidOptionError(
        `${where}must start with a machine size <N>cpu (e.g. 2cpu), got ${JSON.stringify(label)} in ${JSON.stringify(item)}`,
      );
    const price = m[2]!.trim() === '' ? NaN : Number(m[2]);
    if (!Number.isFinite(price) || price < 0)
      throw new InvalidOptionError(
        `${where}must give a price per hour ≥ 0 after "=" (e.g. ${label}=0.38/h), got ${JSON.stringify(item)}`,
      );
    if (label in prices)
      throw new InvalidOptionError(
        `${where}prices ${label} a second time (${JSON.stringify(item)})`,
      );
    prices[label] = price;
  });
  return prices;
}
