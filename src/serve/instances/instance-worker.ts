/**
 * Worker-thread side of a model instance: owns one onnxruntime session and runs one batch at a
 * time. onnxruntime-node's `run()` does its native work synchronously on the calling thread, which
 * is why each session lives here and not on the HTTP thread.
 *
 * Imports only the message protocol; never re-exported from the package.
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { datatypeFromOnnx, ortTensorType } from '../protocol/datatypes.js';
import type { Datatype, Tensor, TensorData } from '../types.js';
import {
  ownedTensor,
  transferListOf,
  type FromWorker,
  type InstanceWorkerData,
  type RawValueMetadata,
  type RunMessage,
  type StallMessage,
  type ToWorker,
} from './messages.js';

const port = parentPort;
if (port === null) throw new Error('instance-worker must run in a worker thread');
const data = workerData as InstanceWorkerData;

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

function rawMetadata(list: readonly ort.InferenceSession.ValueMetadata[]): RawValueMetadata[] {
  return list.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, shape: [] }));
}

async function load(): Promise<ort.InferenceSession | undefined> {
  // Idle intra-/inter-op threads spin-wait for work by default, which keeps cores busy between
  // batches and starves the HTTP thread and the other instances; off unless asked for.
  const spinning = data.allowSpinning ? '1' : '0';
  try {
    const session = await ort.InferenceSession.create(data.modelBytes, {
      intraOpNumThreads: data.intraOpThreads,
      // The exported graphs are chains: parallel execution across nodes buys nothing and costs threads.
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      extra: { 'session.intra_op.allow_spinning': spinning, 'session.inter_op.allow_spinning': spinning },
    });
    send({ type: 'ready', inputs: rawMetadata(session.inputMetadata), outputs: rawMetadata(session.outputMetadata) });
    return session;
  } catch (err) {
    send({ type: 'load-failed', message: (err as Error).message ?? String(err) });
    port!.close();
    return undefined;
  }
}

async function run(session: ort.InferenceSession, message: RunMessage): Promise<void> {
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const t of message.inputs) {
      feeds[t.name] = new ort.Tensor(ortTensorType(t.datatype) as ort.Tensor.Type, t.data as never, [...t.shape]);
    }
    const results = await session.run(feeds, [...message.outputs]);
    const outputs: Tensor[] = message.outputs.map((name) => {
      const value = results[name]!;
      const datatype: Datatype | undefined = datatypeFromOnnx(value.type);
      // The pool refuses such models at load; this guards a model whose output type is decided at run time.
      if (datatype === undefined) throw new Error(`output "${name}" has type ${value.type}, which the inference protocol cannot carry`);
      return ownedTensor({ name, datatype, shape: [...value.dims], data: value.data as TensorData });
    });
    send({ type: 'result', id: message.id, outputs }, transferListOf(outputs));
  } catch (err) {
    send({ type: 'run-failed', id: message.id, message: (err as Error).message ?? String(err) });
  }
}

function stall(message: StallMessage): void {
  // Atomics.wait blocks the thread the way a long native run does (no event loop turns), yet
  // worker.terminate() still interrupts it, so tests stay quick.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, message.sleepMs);
  if (message.exitCode !== undefined) process.exit(message.exitCode);
  send({ type: 'result', id: message.id, outputs: [] });
}

const ready = load();
// Messages are handled one at a time: the pool sends a new batch only after the previous answer.
let chain: Promise<void> = Promise.resolve();
port.on('message', (message: ToWorker) => {
  chain = chain.then(async () => {
    const session = await ready;
    if (session === undefined) return;
    switch (message.type) {
      case 'run':
        await run(session, message);
        break;
      case 'stall':
        stall(message);
        break;
      case 'close':
        await session.release();
        port.close();
        break;
    }
  });
});
