/**
 * Flag parsing shared by the commands: node's own `util.parseArgs`, strict, with its errors turned
 * into coded ones that say which flag was wrong.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InvalidOptionError } from '../errors.js';

/** Flag definitions, as `util.parseArgs` takes them. */
export type FlagSpec = NonNullable<ParseArgsConfig['options']>;

/** Parses `argv` strictly; unknown flags and missing values become `InvalidOptionError`. */
export function parseFlags(
  command: string,
  argv: string[],
  flags: FlagSpec,
): Record<string, string | boolean | undefined> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: flags,
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length > 0) {
      throw new InvalidOptionError(
        `mlscale ${command}: unexpected argument "${positionals[0]}" (flags start with --; see --help)`,
      );
    }
    return values as Record<string, string | boolean | undefined>;
  } catch (err) {
    if (err instanceof InvalidOptionError) throw err;
    const message = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new InvalidOptionError(`mlscale ${command}: ${message} (see mlscale ${command} --help)`, {
      cause: err,
    });
  }
}

/**
 * Parses `argv` strictly, allowing up to `maxPositionals` arguments that are not flags (e.g. the
 * model of `mlscale optimize MODEL`); more, unknown flags and missing values become `InvalidOptionError`.
 */
export function parseFlagsAndArguments(
  command: string,
  argv: string[],
  flags: FlagSpec,
  maxPositionals: number,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: flags,
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length > maxPositionals) {
      throw new InvalidOptionError(
        `mlscale ${command}: unexpected argument "${positionals[maxPositionals]}" (see mlscale ${command} --help)`,
      );
    }
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (err) {
    if (err instanceof InvalidOptionError) throw err;
    const message = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new InvalidOptionError(`mlscale ${command}: ${message} (see mlscale ${command} --help)`, {
      cause: err,
    });
  }
}

/**
 * A flag's value as a number when it is one; otherwise the text itself, so that validation can say
 * what was given ("--epochs must be an integer from 1 to 100000, got \"ten\"").
 */
export function numberFlag(value: string | boolean | undefined): number | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined;
  const n = value.trim() === '' ? NaN : Number(value);
  return Number.isFinite(n) ? n : (value as unknown as number);
}

/** A comma-separated list of numbers (`--hidden 64,32`); non-numbers are kept for the error message. */
export function numberListFlag(value: string | boolean | undefined): number[] | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined;
  return value.split(',').map((part) => numberFlag(part) as number);
}

/** A text flag, or undefined. */
export function textFlag(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A comma-separated list of texts (`--categorical city,plan`); empty items are dropped, `''` is the empty list. */
export function textListFlag(value: string | boolean | undefined): string[] | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined;
  return value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}

const kSizeUnits: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/**
 * A size in bytes: `512M`, `2G`, `1.5GiB`, `4096` (units are powers of 1024), or a share of
 * `whole` such as `25%`. Anything else is kept as text for the error message.
 *
 * @param whole - What a percentage is of (e.g. the machine's memory).
 */
export function sizeFlag(value: string | boolean | undefined, whole: number): number | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(%|[a-z]*)\s*$/i.exec(value);
  if (match === null) return value as unknown as number;
  const amount = Number(match[1]);
  const unit = match[2]!.toLowerCase();
  if (unit === '%')
    return amount <= 100 ? Math.floor((amount / 100) * whole) : (value as unknown as number);
  const scale = kSizeUnits[unit];
  return scale === undefined ? (value as unknown as number) : Math.floor(amount * scale);
}
