/**
 * A worker thread of `bench:pipeline`'s CSV ceiling: `workerData` is a `CeilingWork`
 * (`csv-ceiling-work.ts`); posts the ms it took.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ceilingWork, type CeilingWork } from './csv-ceiling-work.js';

parentPort!.postMessage(await ceilingWork(workerData as CeilingWork));
