/**
 * `mlscale advise <dir|sweep.json>...`: reads sweep files, prints which lever to pull next with the
 * numbers behind it, a capacity plan and costs; with --out, writes the report (HTML + Markdown).
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { advise, type Advice, type AdviseOptions } from '../analysis/advisor.js';
import { parsePrices } from '../analysis/prices.js';
import { readSweepFile } from '../analysis/sweep-file.js';
import type { SweepFile } from '../analysis/sweep-schema.js';
import { sweepRunners, verifyRecommendation, type Verification } from '../analysis/verify.js';
import { InvalidOptionError } from '../errors.js';
import { numberFlag, textFlag, type FlagSpec } from './args.js';
import { durationFlag } from '../util/duration.js';

/** The text of `mlscale advise --help`. */
export const adviseHelp = `Usage: mlscale advise <dir|sweep.json>... [options]

Reads the sweep files that 'mlscale sweep serve|pipeline' wrote (a folder holding sweep.json, or
the file) and says which lever to pull next — a larger batch, a cheaper model (a variant from
'mlscale optimize' that the sweep measured: 'sweep serve --variants int8'), vertical (more on
this machine) or horizontal (more machines) — citing the measurements behind it.

  --price LIST          prices per machine size, e.g. 2cpu=0.10/h,8cpu=0.38/h: compares the cost of
                        a model variant, vertical and horizontal (per million predictions, per
                        pipeline run)
  --target-rate N       requests/s the service must answer within the sweep's SLO: how many
                        machines of the measured size that takes
  --target-rows N       rows a pipeline run must process...
  --target-time T       ...within this time (600, 600s, 10m, 1.5h)
  --verify              run each recommendation's next configuration (the sweep's machinery, one
                        grid point) and print predicted against measured, with the error in %
                        (target: within 15%); steps that need more machines are skipped
  --redis URL           with --verify, the Redis of a bullmq pipeline sweep
  --out DIR             also write DIR/report.html and DIR/report.md (charts in DIR/charts/)
  --json                print the advice as JSON instead of text
  -h, --help            this help`;

const flags: FlagSpec = {
  price: { type: 'string' },
  'target-rate': { type: 'string' },
  'target-rows': { type: 'string' },
  'target-time': { type: 'string' },
  out: { type: 'string' },
  verify: { type: 'boolean' },
  redis: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** Runs `mlscale advise`; prints the advice and resolves with the exit code. */
export async function adviseCommand(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let paths: string[];
  try {
    const parsed = parseArgs({ args: argv, options: flags, strict: true, allowPositionals: true });
    values = parsed.values as Record<string, string | boolean | undefined>;
    paths = parsed.positionals;
  } catch (err) {
    throw new InvalidOptionError(
      `mlscale advise: ${(err as Error).message.replace(/\. To specify a positional argument.*$/s, '')} (see mlscale advise --help)`,
      { cause: err },
    );
  }
  if (values.help) {
    process.stdout.write(adviseHelp + '\n');
    return 0;
  }
  if (paths.length === 0)
    throw new InvalidOptionError(
      'mlscale advise needs one or more sweep folders or sweep.json files, e.g. mlscale advise reports/serve reports/pipeline (see --help)',
    );

  const options: AdviseOptions = {};
  const price = textFlag(values.price);
  if (price !== undefined) options.prices = parsePrices(price);
  const positive = (flag: string): number | undefined => {
    const raw = values[flag];
    if (raw === undefined) return undefined;
    const v = numberFlag(raw);
    if (typeof v !== 'number' || !(v > 0))
      throw new InvalidOptionError(`--${flag} must be a number > 0, got ${JSON.stringify(raw)}`);
    return v;
  };
  const rate = positive('target-rate');
  if (rate !== undefined) options.targetRate = rate;
  const rows = positive('target-rows');
  const timeText = textFlag(values['target-time']);
  if ((rows === undefined) !== (timeText === undefined)) {
    throw new InvalidOptionError(
      '--target-rows and --target-time go together: the rows a pipeline run must process within a time (e.g. --target-rows 100000000 --target-time 10m)',
    );
  }
  if (rows !== undefined && timeText !== undefined) {
    const seconds = durationFlag('--target-time', timeText)! / 1000;
    options.targetRows = rows;
    options.targetSeconds = seconds;
  }
  const out = textFlag(values.out);
  if (out === '') throw new InvalidOptionError('--out must name a folder, got ""');

  const sweeps = [];
  for (const path of paths) sweeps.push(await readSweepFile(path));
  if (options.targetRate !== undefined && !sweeps.some((s) => s.kind === 'serve')) {
    throw new InvalidOptionError(
      `--target-rate plans serving capacity, but none of ${paths.join(', ')} is a serve sweep`,
    );
  }
  if (options.targetRows !== undefined && !sweeps.some((s) => s.kind === 'pipeline')) {
    throw new InvalidOptionError(
      `--target-rows plans pipeline capacity, but none of ${paths.join(', ')} is a pipeline sweep`,
    );
  }

  const redis = textFlag(values.redis);
  if (redis !== undefined && !values.verify)
    throw new InvalidOptionError(
      '--redis applies only with --verify (the Redis of a bullmq sweep)',
    );
  const advice = advise(sweeps, options);
  const verifications = values.verify
    ? await verifyAll(sweeps, advice, redis, values.json === true)
    : undefined;
  // The report's charts load Vega (about a second): only when a report is asked for.
  const report =
    out !== undefined
      ? await (await import('../analysis/report.js')).writeReport(out, sweeps, advice)
      : undefined;
  if (values.json) {
    process.stdout.write(
      JSON.stringify(
        {
          ...adviceJson(advice),
          ...(verifications ? { verifications } : {}),
          ...(report ? { report } : {}),
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    process.stdout.write(advice.lines.join('\n') + '\n');
    if (verifications) {
      process.stdout.write('\nPredictions checked\n');
      for (const v of verifications)
        process.stdout.write(
          `  - ${v.scope === 'serve' ? 'Serving' : 'Pipeline'}: ${'skipped' in v ? `not verified: ${v.skipped}` : v.text}\n`,
        );
    }
    if (report) process.stdout.write(`\nReport: ${report.html} (and ${report.markdown})\n`);
  }
  return 0;
}

/** Runs every recommendation's next configuration, one after the other. */
async function verifyAll(
  sweeps: readonly SweepFile[],
  advice: Advice,
  redis: string | undefined,
  quiet: boolean,
): Promise<Verification[]> {
  const runners = sweepRunners({
    ...(redis !== undefined ? { redis } : {}),
    ...(quiet ? {} : { onProgress: (line: string) => process.stderr.write(`verify: ${line}\n`) }),
  });
  const out: Verification[] = [];
  for (const [i, sweep] of sweeps.entries())
    out.push(await verifyRecommendation(sweep, advice.recommendations[i]!, runners));
  return out;
}

/** The advice without the sweeps it carries (they are the input files). */
export function adviceJson(advice: Advice): Record<string, unknown> {
  return {
    recommendations: advice.recommendations,
    analyses: advice.analyses.map(({ sweep, ...rest }) => ({
      ...rest,
      createdAt: sweep.createdAt,
      machine: sweep.machine,
    })),
    costs: advice.costs,
    lines: advice.lines,
  };
}
