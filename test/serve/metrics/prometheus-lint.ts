/**
 * The rules of Prometheus' own `promtool check metrics` (client_golang's promlint), for tests that
 * must hold on a machine without promtool: every family has HELP and TYPE, counters end in
 * `_total` and nothing else does, names are snake_case in base units without abbreviations or
 * their type, histograms carry `le`, and no word is repeated (`process_process`).
 */

/** One problem, as promtool prints it: the metric family and what is wrong. */
export interface LintProblem {
  readonly metric: string;
  readonly text: string;
}

const kAbbreviations = [
  's',
  'ms',
  'us',
  'ns',
  'sec',
  'b',
  'kb',
  'mb',
  'gb',
  'tb',
  'pb',
  'm',
  'h',
  'd',
];
const kNonBaseUnits = [
  'milliseconds',
  'microseconds',
  'nanoseconds',
  'minutes',
  'hours',
  'days',
  'weeks',
  'kilobytes',
  'megabytes',
  'gigabytes',
  'terabytes',
  'celsius',
  'fahrenheit',
  'percent',
];

/** Lints a text exposition; an empty list means promtool's rules hold. */
export function lintExposition(text: string): LintProblem[] {
  const problems: LintProblem[] = [];
  const help = new Set<string>();
  const types = new Map<string, string>();
  const sampled = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
    if (comment) {
      if (comment[1] === 'HELP') help.add(comment[2]!);
      else types.set(comment[2]!, comment[3] ?? '');
      continue;
    }
    if (line.startsWith('#')) continue;
    const name = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)?.[1];
    if (name === undefined) {
      problems.push({
        metric: line.slice(0, 40),
        text: 'sample line does not start with a metric name',
      });
      continue;
    }
    sampled.add(name);
  }
  for (const [family, type] of types) {
    const problem = (text: string): void => void problems.push({ metric: family, text });
    if (!help.has(family)) problem('no help text');
    if (type === 'counter' && !family.endsWith('_total'))
      problem('counter metrics should have "_total" suffix');
    if (type !== 'counter' && family.endsWith('_total'))
      problem('non-counter metrics should not have "_total" suffix');
    if (family.includes(':')) problem('metric names should not contain ":"');
    if (/[A-Z]/.test(family)) problem('metric names should be written in snake_case not camelCase');
    const words = family.split('_');
    for (const abbr of kAbbreviations)
      if (words.includes(abbr))
        problem(`metric names should not contain abbreviated units (${abbr})`);
    for (const unit of kNonBaseUnits)
      if (words.includes(unit)) problem(`use base unit instead of "${unit}"`);
    for (const t of ['counter', 'gauge', 'histogram', 'summary'])
      if (words.includes(t)) problem(`metric name should not include type '${t}'`);
    for (let i = 1; i < words.length; i++)
      if (words[i] === words[i - 1]) problem(`metric name repeats "${words[i]}"`);
    if (type === 'histogram') {
      if (!sampled.has(`${family}_bucket`) && sampled.has(`${family}_count`))
        problem('histogram has no _bucket samples');
    } else if (type !== 'summary') {
      for (const suffix of ['_bucket', '_count', '_sum'])
        if (family.endsWith(suffix))
          problem(`non-histogram and non-summary metrics should not have "${suffix}" suffix`);
    }
  }
  return problems;
}
