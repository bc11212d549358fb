/**
 * The standard gRPC health service (`grpc.health.v1.Health`), which load balancers, Kubernetes'
 * gRPC probes and grpc_health_probe ask: SERVING when the server is ready as GET /v2/health/ready
 * says (not draining, every model can answer), NOT_SERVING otherwise. It knows the whole server
 * (service "") and the inference service by name; any other name is unknown.
 *
 * @module
 */
import {
  status as Status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { notReadyReason } from '../routes/inference.js';
import type { ServerContext } from '../server-context.js';

type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** Service names the health service answers for. */
export const kHealthServices: readonly string[] = ['', 'inference.GRPCInferenceService'];

/** How often a Watch stream looks at readiness again, in ms. */
const kWatchEveryMs = 1_000;

/** The health service over a server's context. */
export function healthService(context: ServerContext): UntypedServiceImplementation {
  const statusOf = (service: string): ServingStatus =>
    !kHealthServices.includes(service)
      ? 'SERVICE_UNKNOWN'
      : notReadyReason(context) === undefined
        ? 'SERVING'
        : 'NOT_SERVING';

  return {
    Check(
      call: ServerUnaryCall<{ service: string }, unknown>,
      callback: sendUnaryData<unknown>,
    ): void {
      const status = statusOf(call.request.service);
      if (status === 'SERVICE_UNKNOWN')
        callback({
          code: Status.NOT_FOUND,
          details: `unknown service ${JSON.stringify(call.request.service)}; this server answers for ${kHealthServices.map((s) => JSON.stringify(s)).join(' and ')}`,
        });
      else callback(null, { status });
    },
    Watch(call: ServerWritableStream<{ service: string }, unknown>): void {
      // The spec: send the status now, then each change, until the client ends the stream.
      let last: ServingStatus | undefined;
      const send = (): void => {
        const status = statusOf(call.request.service);
        if (status !== last) {
          last = status;
          call.write({ status });
        }
      };
      send();
      const timer = setInterval(send, kWatchEveryMs);
      timer.unref();
      call.on('cancelled', () => clearInterval(timer));
      call.on('close', () => clearInterval(timer));
    },
  } as UntypedServiceImplementation;
}
