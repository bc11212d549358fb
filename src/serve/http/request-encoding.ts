/**
 * Compressed request bodies (`Content-Encoding: gzip`, `deflate` or `br`, as Triton's and KServe's
 * clients can send): decoded as they stream in, with the body limit applied to the DECOMPRESSED
 * size. A body that inflates past the limit (a zip bomb) stops the inflater at once and is answered
 * 413; its memory never exceeds the limit. The compressed size is held to the limit too (Fastify
 * checks `Content-Length` and the bytes received, through `receivedEncodedLength`).
 *
 * @fastify/compress can also decode requests, but it lets Fastify count the inflated bytes and
 * keeps inflating after the limit is passed (the output is only dropped); this hook stops it.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import {
  createBrotliDecompress,
  createGunzip,
  createInflate,
  type BrotliDecompress,
  type Gunzip,
  type Inflate,
} from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  InferenceRequestError,
  PayloadTooLargeError,
  UnsupportedEncodingError,
} from '../../errors.js';

/** The request encodings decoded, by their `Content-Encoding` token. */
const kDecoders: Readonly<Record<string, () => Gunzip | Inflate | BrotliDecompress>> = {
  gzip: () => createGunzip(),
  'x-gzip': () => createGunzip(),
  deflate: () => createInflate(),
  br: () => createBrotliDecompress(),
};

/** A decoded body stream as Fastify reads it: the compressed bytes counted for its length checks. */
type DecodedBody = Transform & { receivedEncodedLength: number };

/**
 * A `preParsing` hook (callback style: it runs on every request) that decodes compressed bodies.
 * @param bodyLimit - most bytes a body may decompress to (`options.bodyLimit`).
 */
export function requestDecoder(
  bodyLimit: number,
): (
  request: FastifyRequest,
  reply: FastifyReply,
  payload: Readable,
  done: (err: Error | null, payload?: Readable) => void,
) => void {
  return (request, reply, payload, done) => {
    const header = request.headers['content-encoding'];
    if (header === undefined) return done(null, payload);
    const encoding = header.trim().toLowerCase();
    if (encoding === 'identity' || encoding === '') return done(null, payload);
    const decoder = kDecoders[encoding];
    if (decoder === undefined) {
      void reply.header('connection', 'close');
      return done(
        new UnsupportedEncodingError(
          `Content-Encoding: expected gzip, deflate, br or identity, got ${JSON.stringify(header)}`,
        ),
      );
    }
    done(null, decode(payload, decoder(), encoding, bodyLimit, request.raw, reply));
  };
}

function decode(
  payload: Readable,
  inflater: Gunzip | Inflate | BrotliDecompress,
  encoding: string,
  limit: number,
  raw: IncomingMessage,
  reply: FastifyReply,
): DecodedBody {
  let total = 0;
  const capped = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      total += chunk.length;
      if (total > limit) {
        callback(
          new PayloadTooLargeError(
            `request body decompresses (Content-Encoding: ${encoding}) to more than the server's limit of ${limit} bytes (--body-limit); the limit applies to the decompressed body`,
          ),
        );
        return;
      }
      callback(null, chunk);
    },
  }) as DecodedBody;
  capped.receivedEncodedLength = 0;
  payload.on('data', (chunk: Buffer) => {
    capped.receivedEncodedLength += chunk.length;
  });
  const stop = (err: Error): void => {
    // Stop inflating, drop the rest of the upload unread, and close the connection after the answer.
    payload.unpipe(inflater);
    inflater.destroy();
    payload.resume();
    if (!raw.complete) void reply.header('connection', 'close');
    capped.destroy(err);
  };
  inflater.on('error', (err: Error) =>
    stop(
      new InferenceRequestError(
        `body: cannot decode it as Content-Encoding ${encoding}: ${err.message}`,
        { cause: err },
      ),
    ),
  );
  capped.on('error', (err: Error) => {
    if (!inflater.destroyed) stop(err);
  });
  payload.pipe(inflater).pipe(capped);
  return capped;
}
