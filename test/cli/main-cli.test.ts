import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers.js';
import { version } from '../../src/version.js';

describe('mlscale (the program)', () => {
  for (const flag of ['-v', '--version', 'version'])
    test(`should print the version for ${flag}`, async () => {
      const r = await runCli([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${version}\n`);
    });

  const commandUsage: [string[], RegExp][] = [
    [['train'], /^Usage: mlscale train --data SOURCE/],
    [['load'], /^Usage: mlscale load --url URL/],
    [['advise'], /^Usage: mlscale advise </],
    [['sweep', 'serve'], /^Usage: mlscale sweep serve /],
    [['demo'], /^Usage: mlscale demo /],
  ];
  for (const [args, usage] of commandUsage)
    test(`should print ${args.join(' ')}'s own help for 'help ${args.join(' ')}'`, async () => {
      const r = await runCli(['help', ...args]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, usage);
      assert.doesNotMatch(r.stdout, /^Commands$/m);
    });

  test('should print the general help for help alone', async () => {
    const r = await runCli(['help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: mlscale <command>/);
    assert.match(r.stdout, /mlscale help <command>/);
  });

  test('should name the commands when help is asked for an unknown one', async () => {
    const r = await runCli(['help', 'tarin']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /mlscale help: no command "tarin"; commands: train, serve/);
  });
});
