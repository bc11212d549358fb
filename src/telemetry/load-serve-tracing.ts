/**
 * The server's tracing, when the environment asks for it: starts the SDK and loads the module
 * that makes spans, both lazily. With tracing off this imports nothing and costs nothing per
 * request (the server tests `tracing === undefined`).
 *
 * @module
 */
import { startTracingSdk } from './sdk.js';
import type { ServeTracing } from './types.js';

/** The server's tracer, or undefined when the OTEL_* variables of `env` do not ask for traces. */
export async function loadServeTracing(
  env: NodeJS.ProcessEnv = process.env,
  warn?: (message: string) => void,
): Promise<ServeTracing | undefined> {
  const sdk = await startTracingSdk(env, warn);
  if (!sdk) return undefined;
  const { serveTracing } = await import('./serve-tracing.js');
  return serveTracing(sdk);
}
