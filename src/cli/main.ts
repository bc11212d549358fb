/**
 * The `mlscale` program: dispatches to one command per file, prints coded errors plainly.
 *
 * @module
 */
import { InvalidOptionError, MlscaleError } from '../errors.js';
import { version } from '../version.js';
import { demoCommand } from './demo.js';
import { deployCommand } from './deploy.js';
import { serveCommand } from './serve.js';
import { trainCommand } from './train.js';
import { workerCommand } from './worker.js';

const usage = `Usage: mlscale <command> [flags]

Commands
  train     train a model with the batch pipeline (inline, threads or bullmq executor)
  worker    run batches for 'train --executor bullmq' drivers, taken from Redis
  serve     serve ONNX models over the Open Inference Protocol (KServe v2 / Triton REST)
  deploy    write an nginx or HAProxy configuration for many replicas, or Kubernetes manifests
  demo      the quick start: train on the shipped digits sample with the threads executor
  version   print the version

Run 'mlscale <command> --help' for a command's flags.`;

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, Command> = {
  train: trainCommand,
  serve: serveCommand,
  deploy: deployCommand,
  worker: workerCommand,
  demo: demoCommand,
  version: async () => {
    process.stdout.write(version + '\n');
    return 0;
  },
};

/** Runs the program; resolves with the process exit code (0 ok, 1 failure, 2 usage error). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') return commands.version!([]);
  const command = commands[name];
  if (!command) {
    process.stderr.write(`mlscale: unknown command "${name}"; commands: ${Object.keys(commands).join(', ')}\n`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (err) {
    return reportError(err);
  }
}

/** Prints an error as `mlscale: <message> [<code>]` and picks the exit code. */
export function reportError(err: unknown): number {
  if (err instanceof MlscaleError) {
    process.stderr.write(`mlscale: ${err.message} [${err.code}]\n`);
    return err instanceof InvalidOptionError ? 2 : 1;
  }
  process.stderr.write(`mlscale: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}
