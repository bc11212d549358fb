/**
 * A bare BullMQ worker with a no-op processor: the floor the distributed executor's per-job cost
 * is compared with (bench/distributed.ts). Usage: node bare-bullmq-worker.js URL PREFIX CONCURRENCY
 */
import { Worker } from 'bullmq';

const [url, prefix, concurrency] = process.argv.slice(2);
const worker = new Worker('bare', async () => null, {
  connection: { url, maxRetriesPerRequest: null },
  prefix,
  concurrency: Number(concurrency),
});
await worker.waitUntilReady();
process.stdout.write('ready\n');
process.on('SIGTERM', () => void worker.close().then(() => process.exit(0)));
