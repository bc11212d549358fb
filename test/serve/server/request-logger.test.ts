/**
 * The per-request logger: made only when a request logs, and then bound to the request id.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { lazyChildLogger } from '../../../src/serve/request-logger.js';

function capture(level = 'info'): {
  logger: FastifyBaseLogger;
  lines: () => Record<string, unknown>[];
  children: () => number;
} {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  const logger = pino({ level }, stream) as unknown as FastifyBaseLogger;
  let children = 0;
  const child = logger.child.bind(logger);
  logger.child = ((...args: Parameters<typeof child>) => {
    children++;
    return child(...args);
  }) as typeof logger.child;
  return {
    logger,
    lines: () =>
      text
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    children: () => children,
  };
}

describe('lazyChildLogger', () => {
  test('should make no child until a line is logged, then log with the bindings', () => {
    const { logger, lines, children } = capture();
    const log = lazyChildLogger(logger, { reqId: 'req-7' }, {});
    assert.equal(log.level, 'info');
    assert.equal(children(), 0, 'no child for a request that logs nothing');
    log.debug('not at this level');
    log.error({ url: '/v2/models/m/infer' }, 'request failed');
    log.warn('second line');
    assert.equal(children(), 1, 'one child, made on first use');
    const [first, second] = lines();
    assert.equal(first!['reqId'], 'req-7');
    assert.equal(first!['msg'], 'request failed');
    assert.equal(first!['url'], '/v2/models/m/infer');
    assert.equal(second!['reqId'], 'req-7');
  });

  test("should take a route's log level", () => {
    const { logger, lines } = capture('info');
    const log = lazyChildLogger(logger, { reqId: 'r' }, { level: 'debug' });
    assert.equal(log.level, 'debug');
    log.debug('shown');
    assert.equal(lines()[0]!['msg'], 'shown');
  });
});
