/**
 * The server's tracing, when the environment asks for it: loads the module that makes spans,
 * lazily. With tracing off this imports nothing and costs nothing per request (the server tests
 * `tracing === undefined`).
 *
 * @module
 */
import { samplerSetting, tracingRequest } from './otel-env.js';
import type { ServeTracing } from './types.js';

/** The server's tracer, or undefined when the OTEL_* variables of `env` do not ask for traces. */
export async function loadServeTracing(
  env: NodeJS.ProcessEnv = process.env,
  warn: (message: string) => void = () => {},
): Promise<ServeTracing | undefined> {
  const request = tracingRequest(env);
  for (const w of request.warnings) warn(w);
  if (!request.enabled) return undefined;
  const { serveTracing } = await import('./serve-tracing.js');
  return serveTracing(env, request.protocol, samplerSetting(env, warn), warn);
}
