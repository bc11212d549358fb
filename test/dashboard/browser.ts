/**
 * Debian's chromium through playwright-core for the dashboard's browser tests, or why there is
 * none: the tests skip with that reason, unless MLSCALE_REQUIRE_BROWSER is set (as .ci/run does),
 * when a missing browser fails them.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const kChromium = '/usr/bin/chromium';
const kArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Why the browser tests cannot run here, or undefined when they can. Throws when a browser is required. */
export function browserSkipReason(): string | undefined {
  if (existsSync(kChromium)) return undefined;
  const reason = `no browser: ${kChromium} is missing (apt-get install chromium)`;
  if (process.env['MLSCALE_REQUIRE_BROWSER'])
    throw new Error(`MLSCALE_REQUIRE_BROWSER is set but ${reason}`);
  return reason;
}

/** Launches headless chromium; close it in an after hook. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: kChromium,
    args: kArgs,
    headless: true,
    timeout: 30_000,
  });
}
