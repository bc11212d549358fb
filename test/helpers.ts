/**
 * Shared test helpers: temporary folders and running the real `mlscale` program.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { packageRoot } from '../src/util/package-root.js';

/** A fresh temporary folder, removed by the returned cleanup. */
export async function tempDir(
  prefix = 'mlscale-test-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Output of a finished command. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `bin/mlscale.js` with `args` and collects its output. */
export function runCli(
  args: string[],
  options: {
    cwd?: string;
    timeoutMs?: number;
    /** Stop the command (SIGTERM) once its stderr matches: for commands that would wait on. */
    until?: RegExp;
  } = {},
): Promise<CliResult> {
  const bin = join(packageRoot(), 'bin', 'mlscale.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: options.cwd ?? packageRoot(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      if (options.until?.test(stderr)) child.kill('SIGTERM');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
