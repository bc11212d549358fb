/**
 * The handlers of `inference.GRPCInferenceService`: the protocol's health, metadata and inference
 * over gRPC, answered from the same repository, batchers and instances as the REST routes
 * (routes/inference.ts), with the same readiness rules and the same error messages.
 *
 * @module
 */
import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { ClientClosedError, ModelNotReadyError } from '../../errors.js';
import { version as mlscaleVersion } from '../../version.js';
import type { CancelSignal } from '../batcher.js';
import { notReadyReason, serverExtensions } from '../routes/inference.js';
import type { ServedModel } from '../served-model.js';
import type { ServerContext } from '../server-context.js';
import { toRestRequest } from './infer-request.js';
import { toGrpcResponse } from './infer-response.js';
import type { ModelInferRequest, ModelInferResponse } from './messages.js';
import { statusOf } from './status.js';
import type { RequestTrace, TraceCarrier } from '../../telemetry/types.js';

/** What the tracer reads when a call carries no trace context. */
const kNoCarrier: TraceCarrier = Object.freeze({});

interface ModelRef {
  readonly name: string;
  readonly version: string;
}

type Unary<Req, Res> = (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void;

/** The service's implementation over a server's context. */
export function inferenceService(context: ServerContext): UntypedServiceImplementation {
  const { repository } = context;
  const model = (ref: ModelRef): ServedModel =>
    repository.get(ref.name, ref.version === '' ? undefined : ref.version);

  const serverLive: Unary<unknown, { live: boolean }> = (_call, callback) =>
    callback(null, { live: true });

  const serverReady: Unary<unknown, { ready: boolean }> = (_call, callback) =>
    callback(null, { ready: notReadyReason(context) === undefined });

  const modelReady: Unary<ModelRef, { ready: boolean }> = (call, callback) => {
    try {
      const m = model(call.request);
      callback(null, { ready: m.health().state === 'READY' && !context.draining() });
    } catch (err) {
      // Known but unable to answer (failed to load): not ready; unknown: NOT_FOUND, as REST's 404.
      if (err instanceof ModelNotReadyError) callback(null, { ready: false });
      else callback(statusOf(err));
    }
  };

  const serverMetadata: Unary<unknown, unknown> = (_call, callback) =>
    callback(null, {
      name: 'mlscale',
      version: mlscaleVersion,
      extensions: serverExtensions(context),
    });

  const modelMetadata: Unary<ModelRef, unknown> = (call, callback) => {
    try {
      const m = model(call.request).metadata();
      const tensor = (t: { name: string; datatype: string; shape: readonly number[] }) => ({
        name: t.name,
        datatype: t.datatype,
        shape: t.shape.map(String),
      });
      callback(null, {
        name: m.name,
        versions: [...m.versions],
        platform: m.platform,
        inputs: m.inputs.map(tensor),
        outputs: m.outputs.map(tensor),
      });
    } catch (err) {
      callback(statusOf(err));
    }
  };

  const modelInfer: Unary<ModelInferRequest, ModelInferResponse> = (call, callback) => {
    let trace: RequestTrace | undefined;
    const run = async (): Promise<ModelInferResponse> => {
      const { model_name: name, model_version: version } = call.request;
      const m = model({ name, version });
      if (context.tracing) {
        // The metadata as a map only when it carries a trace context to read.
        const carrier =
          call.metadata.get('traceparent').length === 0 ? kNoCarrier : call.metadata.getMap();
        trace = context.tracing.request('grpc', m.name, version, carrier);
      }
      const rest = toRestRequest(call.request);
      const encoded = await m.infer(rest.body, rest.headers, new CallSignal(call), trace);
      return toGrpcResponse(encoded, rest.raw);
    };
    run().then(
      (response) => {
        trace?.end();
        callback(null, response);
      },
      (err: unknown) => {
        trace?.end(err);
        callback(statusOf(err));
      },
    );
  };

  return {
    ServerLive: serverLive,
    ServerReady: serverReady,
    ModelReady: modelReady,
    ServerMetadata: serverMetadata,
    ModelMetadata: modelMetadata,
    ModelInfer: modelInfer,
  } as UntypedServiceImplementation;
}

/** Aborts when the client cancels the call or its deadline passes: a queued request is then dropped unrun. */
class CallSignal implements CancelSignal {
  aborted = false;
  #reason: ClientClosedError | undefined;
  #listener: (() => void) | undefined;

  constructor(call: ServerUnaryCall<unknown, unknown>) {
    // grpc-js reports every call's stream closing as 'cancelled', answered calls too: the error
    // (and its stack) is made only when someone reads it.
    call.once('cancelled', () => {
      this.aborted = true;
      this.#listener?.();
    });
  }

  get reason(): unknown {
    if (!this.aborted) return undefined;
    return (this.#reason ??= new ClientClosedError(
      'the client cancelled the call before the answer was ready',
    ));
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    this.#listener = listener;
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    if (this.#listener === listener) this.#listener = undefined;
  }
}
