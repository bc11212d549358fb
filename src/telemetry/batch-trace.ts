/**
 * A batch's spans from the requests in it: ends the traced requests' queue spans and starts the
 * batch and its instance run. Types only from the tracer: with tracing off nothing calls this.
 *
 * @module
 */
import type { BatchTrace, RequestTrace, ServeTracing } from './types.js';

/** Starts the spans of a batch of `works`; undefined when none of them is traced. */
export function startBatchTrace(
  tracing: ServeTracing,
  model: { readonly name: string; readonly version: string },
  works: readonly { readonly trace?: RequestTrace | undefined }[],
): BatchTrace | undefined {
  let traced: RequestTrace[] | undefined;
  for (const w of works) {
    if (w.trace === undefined) continue;
    w.trace.dequeued();
    (traced ??= []).push(w.trace);
  }
  if (traced === undefined) return undefined;
  const batch = tracing.batch(model.name, model.version, traced, works.length);
  batch.runStarted();
  return batch;
}
