/** Which OTEL_* settings turn tracing on, and with which OTLP protocol. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tracingRequest } from '../../src/telemetry/otel-env.js';
import { loadServeTracing } from '../../src/telemetry/load-serve-tracing.js';

describe('tracingRequest', () => {
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' };

  test('off without any OTEL_* variable, and then no tracer is made', async () => {
    assert.deepEqual(tracingRequest({}), {
      enabled: false,
      protocol: 'http/protobuf',
      warnings: [],
    });
    assert.equal(await loadServeTracing({}), undefined);
  });

  test('an OTLP endpoint (general or for traces) turns traces on, over http/protobuf by default', () => {
    assert.deepEqual(tracingRequest(endpoint), {
      enabled: true,
      protocol: 'http/protobuf',
      warnings: [],
    });
    assert.equal(
      tracingRequest({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' })
        .enabled,
      true,
    );
  });

  test('OTEL_TRACES_EXPORTER: otlp on, none off, others named in a warning', () => {
    assert.equal(tracingRequest({ OTEL_TRACES_EXPORTER: 'otlp' }).enabled, true);
    assert.equal(tracingRequest({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }).enabled, false);
    const zipkin = tracingRequest({ OTEL_TRACES_EXPORTER: 'zipkin,otlp' });
    assert.equal(zipkin.enabled, true);
    assert.match(zipkin.warnings[0]!, /zipkin not shipped with mlscale/);
  });

  test('OTEL_SDK_DISABLED=true wins over everything', () => {
    assert.equal(
      tracingRequest({ ...endpoint, OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' })
        .enabled,
      false,
    );
  });

  test('protocol: http/json as asked, traces-specific first; grpc falls back with a warning', () => {
    assert.equal(
      tracingRequest({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).protocol,
      'http/json',
    );
    assert.equal(
      tracingRequest({
        ...endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
      }).protocol,
      'http/protobuf',
    );
    const grpc = tracingRequest({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    assert.equal(grpc.protocol, 'http/protobuf');
    assert.match(grpc.warnings[0]!, /grpc is not shipped/);
  });
});
