/**
 * The old generation a task thread starts with.
 *
 * V8 starts each new isolate's old generation at its minimum and grows the limit from the live
 * size after every mark-compact. A task thread's live heap is small (~11 MB: modules, the
 * onnxruntime session), while each training round promotes a few MB of task objects (inputs,
 * tensors, promises) that die soon after. So the limit stays near the live size, and each worker
 * ran a full mark-compact every ~120 ms of training: 21–22 per run of a 500,000-row CSV, 2 epochs,
 * against 2 on the main thread running the same tasks inline. Starting the old generation at
 * 64 MB took them to 1–2 and the training phase from 1.35–1.40 s to 1.16–1.24 s, at the same peak
 * RSS (BENCHMARKS.md, CSV section).
 *
 * `--initial-old-space-size` is a V8 flag, read when an isolate is created, and process-wide: set
 * here before the executor starts its threads, it applies to them and to isolates created later in
 * this process, and not to the main isolate, which exists already. It only delays the first
 * collections: the maximum heap size is unchanged.
 *
 * @module
 */
import { setFlagsFromString } from 'node:v8';

/** MB of old generation a task thread starts with. */
export const kTaskThreadOldSpaceMb = 64;

let raised = false;

/** Makes threads created from now on start with `kTaskThreadOldSpaceMb` of old generation (once per process). */
export function raiseTaskThreadOldSpace(): void {
  if (raised) return;
  raised = true;
  setFlagsFromString(`--initial-old-space-size=${kTaskThreadOldSpaceMb}`);
}
