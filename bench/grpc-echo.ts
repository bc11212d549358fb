/**
 * A bare @grpc/grpc-js server for `bench:grpc`'s limit row: ModelInfer answered at once with a
 * fixed response (one FP32 output of 10 values as raw contents), no model, no batching, the same
 * .proto and loader options as `mlscale serve`. Prints its port on stdout; stops on SIGTERM.
 */
import { loadPackageDefinition, Server, ServerCredentials } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { kProtoLoaderOptions, protoDir } from '../src/serve/grpc/proto-files.js';

const root = loadPackageDefinition(
  loadSync(`${protoDir()}grpc_predict_v2.proto`, kProtoLoaderOptions),
) as any;
const response = {
  model_name: 'echo',
  model_version: '1',
  outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 10] }],
  raw_output_contents: [Buffer.alloc(40)],
};
const server = new Server({ 'grpc.enable_channelz': 0 });
server.addService(root.inference.GRPCInferenceService.service, {
  ModelInfer: (_call: unknown, callback: (err: null, value: unknown) => void) =>
    callback(null, response),
});
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`${port}\n`);
});
process.once('SIGTERM', () => server.forceShutdown());
