/**
 * The `mlscale serve` child of a sweep or of the demo does not outlive its parent: killed with
 * SIGKILL, the parent cannot stop it, so the child notices its stdin pipe end and stops itself.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { tempDir } from '../helpers.js';
import { smallModelBytes, writeModel } from '../serve/server/server-fixture.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startServerProcess', () => {
  test(
    'should leave no server behind when the program that started it is killed with SIGKILL',
    { timeout: 90_000 },
    async () => {
      const { dir, cleanup } = await tempDir();
      let serverPid = 0;
      try {
        const repo = join(dir, 'models');
        await writeModel(repo, 'small', 1, smallModelBytes());
        const moduleUrl = new URL('../../src/analysis/server-process.js', import.meta.url).href;
        const script = [
          `const { startServerProcess } = await import(${JSON.stringify(moduleUrl)});`,
          `const s = await startServerProcess(['--model-repository', ${JSON.stringify(repo)}, '--log-level', 'warn'], { readyTimeoutMs: 60000 });`,
          `process.stdout.write(s.pid + '\\n');`,
          `setInterval(() => {}, 1000);`,
        ].join('\n');
        const parent = spawn(process.execPath, ['--input-type=module', '-e', script], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        const line = await new Promise<string>((resolve, reject) => {
          createInterface({ input: parent.stdout! }).once('line', resolve);
          parent.once('exit', (code) =>
            reject(new Error(`the parent exited with ${code} before the server was ready`)),
          );
        });
        serverPid = Number(line);
        assert.ok(serverPid > 0 && alive(serverPid), `server pid ${line}`);

        parent.kill('SIGKILL');
        const deadline = Date.now() + 30_000;
        while (alive(serverPid) && Date.now() < deadline) await sleep(100);
        assert.equal(alive(serverPid), false, `the server (pid ${serverPid}) outlived its parent`);
      } finally {
        if (serverPid > 0 && alive(serverPid)) process.kill(serverPid, 'SIGKILL');
        await cleanup();
      }
    },
  );
});
