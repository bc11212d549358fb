/**
 * The HTTP limit for `bench:serve`: a bare Fastify server that parses a JSON body and answers a
 * fixed JSON body of the given size, doing no inference. argv: port, response body file.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const port = Number(process.argv[2]);
const response = readFileSync(process.argv[3]!, 'utf8');
const app = Fastify({ logger: false });
app.post('/v2/models/:name/infer', async (request, reply) => {
  if (typeof request.body !== 'object') throw new Error('expected a JSON body');
  return reply.header('content-type', 'application/json').send(response);
});
await app.listen({ host: '127.0.0.1', port });
process.stdout.write('ready\n');
