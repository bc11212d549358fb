/**
 * Worker-thread side of a model instance: owns one onnxruntime session and runs one batch at a
 * time. onnxruntime-node's `run()` does its native work synchronously on the calling thread, which
 * is why each session lives here and not on the HTTP thread. An `infer` batch arrives as raw
 * request bodies: decoding, merging, splitting and encoding happen here too (see infer-batch.ts).
 *
 * Imports only the message protocol; never re-exported from the package.
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { datatypeFromOnnx, ortTensorType } from '../protocol/datatypes.js';
import type { Datatype } from '../../model/tensor-description.js';
import type { ModelSignature, Tensor, TensorData } from '../types.js';
import { answerBatch, packAnswers, type RawRequest } from './infer-batch.js';
import {
  ownedTensor,
  packedItem,
  transferListOf,
  type FromWorker,
  type InferMessage,
  type InstanceWorkerData,
  type RawValueMetadata,
  type RunMessage,
  type StallMessage,
  type ToWorker,
} from './messages.js';
import { toSignature } from './signature.js';

const port = parentPort;
if (port === null) throw new Error('instance-worker must run in a worker thread');
const data = workerData as InstanceWorkerData;
const done = new Int32Array(data.done);

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

function rawMetadata(list: readonly ort.InferenceSession.ValueMetadata[]): RawValueMetadata[] {
  return list.map((m) =>
    m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, shape: [] },
  );
}

/** The model's signature, as the pool computes it too; undefined for a model the pool refuses. */
let signature: ModelSignature | undefined;

async function load(): Promise<ort.InferenceSession | undefined> {
  // Idle intra-/inter-op threads spin-wait for work by default, which keeps cores busy between
  // batches and starves the HTTP thread and the other instances; off unless asked for.
  const spinning = data.allowSpinning ? '1' : '0';
  if (data.loadStallMs) block(data.loadStallMs); // as a load stuck in native code would
  try {
    const session = await ort.InferenceSession.create(data.modelBytes, {
      intraOpNumThreads: data.intraOpThreads,
      // The exported graphs are chains: parallel execution across nodes buys nothing and costs threads.
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      extra: {
        'session.intra_op.allow_spinning': spinning,
        'session.inter_op.allow_spinning': spinning,
      },
    });
    const metadata = {
      inputs: rawMetadata(session.inputMetadata),
      outputs: rawMetadata(session.outputMetadata),
    };
    try {
      signature = toSignature(metadata, 'model');
    } catch {
      // The pool refuses the model with the reason, from the same metadata.
    }
    send({ type: 'ready', ...metadata });
    return session;
  } catch (err) {
    send({ type: 'load-failed', message: (err as Error).message ?? String(err) });
    port!.close();
    return undefined;
  }
}

/** Runs the session on `inputs`; the named outputs, in that order. */
async function runSession(
  session: ort.InferenceSession,
  inputs: readonly Tensor[],
  names: readonly string[],
): Promise<Tensor[]> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const t of inputs) {
    feeds[t.name] = new ort.Tensor(ortTensorType(t.datatype) as ort.Tensor.Type, t.data as never, [
      ...t.shape,
    ]);
  }
  const results = await session.run(feeds, [...names]);
  return names.map((name) => {
    const value = results[name]!;
    const datatype: Datatype | undefined = datatypeFromOnnx(value.type);
    // The pool refuses such models at load; this guards a model whose output type is decided at run time.
    if (datatype === undefined)
      throw new Error(
        `output "${name}" has type ${value.type}, which the inference protocol cannot carry`,
      );
    return { name, datatype, shape: [...value.dims], data: value.data as TensorData };
  });
}

async function run(session: ort.InferenceSession, message: RunMessage): Promise<void> {
  try {
    const outputs = (await runSession(session, message.inputs, message.outputs)).map(ownedTensor);
    send({ type: 'result', id: message.id, outputs }, transferListOf(outputs));
  } catch (err) {
    send({ type: 'run-failed', id: message.id, message: (err as Error).message ?? String(err) });
  }
}

async function infer(session: ort.InferenceSession, message: InferMessage): Promise<void> {
  const started = performance.now();
  try {
    if (signature === undefined)
      throw new Error('the model has no signature the inference protocol can carry');
    const requests: RawRequest[] = [];
    for (let i = 0; i < message.requests.ends.length; i++) {
      requests.push({
        body: packedItem(message.requests, i),
        headerLength: message.headerLengths?.[i],
      });
    }
    const { answers, runRows } = await answerBatch(requests, {
      signature,
      modelName: message.modelName,
      modelVersion: message.modelVersion,
      maxBatchSize: message.maxBatchSize,
      missingAsNaN: message.missingAsNaN === true,
      run: (inputs, names) => runSession(session, inputs, names),
    });
    const packed = packAnswers(answers);
    const transfer = [
      packed.answers.bytes.buffer,
      packed.answers.ends.buffer,
      packed.kinds.buffer,
      packed.rows.buffer,
      packed.headerLengths.buffer,
    ] as ArrayBuffer[];
    send(
      { type: 'inferred', id: message.id, ...packed, runRows, workMs: performance.now() - started },
      transfer,
    );
  } catch (err) {
    send({ type: 'run-failed', id: message.id, message: (err as Error).message ?? String(err) });
  }
}

/**
 * Blocks the thread for `ms` the way a long native call does (no event loop turns), yet
 * worker.terminate() still interrupts it, so tests stay quick.
 */
function block(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function stall(message: StallMessage): void {
  block(message.sleepMs);
  if (message.exitCode !== undefined) process.exit(message.exitCode);
  send({ type: 'result', id: message.id, outputs: [] });
}

const ready = load();
// Messages are handled one at a time: the pool sends a new batch only once this thread has answered
// the previous one (the `done` count), though maybe before it has read that answer.
let chain: Promise<void> = Promise.resolve();
port.on('message', (message: ToWorker) => {
  chain = chain.then(async () => {
    const session = await ready;
    if (session === undefined) return;
    switch (message.type) {
      case 'run':
        await run(session, message);
        break;
      case 'infer':
        await infer(session, message);
        break;
      case 'stall':
        stall(message);
        break;
      case 'close':
        await session.release();
        port.close();
        return;
    }
    // Answered: the pool may send the next job before it has read this answer.
    Atomics.add(done, 0, 1);
  });
});
