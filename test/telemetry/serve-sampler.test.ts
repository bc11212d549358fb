/**
 * The server decides sampling on its own span records, with the rules of the SDK's samplers: for
 * every OTEL_TRACES_SAMPLER setting, with and without a caller's sampled or unsampled parent, the
 * same decision as the SDK's sampler on the same trace id.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT_CONTEXT, SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace-node';
import { samplerSetting } from '../../src/telemetry/otel-env.js';
import { sampled } from '../../src/telemetry/serve-tracing.js';
import { hex8, newTrace } from '../../src/telemetry/span-record.js';

function sdkSampler(name: string, ratio: number): Sampler {
  const rootOf = (r: string): Sampler =>
    r === 'always_on'
      ? new AlwaysOnSampler()
      : r === 'always_off'
        ? new AlwaysOffSampler()
        : new TraceIdRatioBasedSampler(ratio);
  return name.startsWith('parentbased_')
    ? new ParentBasedSampler({ root: rootOf(name.slice('parentbased_'.length)) })
    : rootOf(name);
}

describe('serve sampling', () => {
  for (const name of [
    'always_on',
    'always_off',
    'traceidratio',
    'parentbased_always_on',
    'parentbased_always_off',
    'parentbased_traceidratio',
  ])
    for (const ratio of [0, 0.1, 0.5, 1])
      test(`${name} (ratio ${ratio}) decides as the SDK's sampler`, () => {
        const setting = samplerSetting({
          OTEL_TRACES_SAMPLER: name,
          OTEL_TRACES_SAMPLER_ARG: String(ratio),
        });
        const sdk = sdkSampler(name, ratio);
        let kept = 0;
        for (let i = 0; i < 2000; i++) {
          const t = newTrace();
          const traceId = hex8(t.t0) + hex8(t.t1) + hex8(t.t2) + hex8(t.t3);
          for (const parent of [undefined, true, false]) {
            const context =
              parent === undefined
                ? ROOT_CONTEXT
                : trace.setSpanContext(ROOT_CONTEXT, {
                    traceId,
                    spanId: '00f067aa0ba902b7',
                    traceFlags: parent ? TraceFlags.SAMPLED : TraceFlags.NONE,
                    isRemote: true,
                  });
            const want =
              sdk.shouldSample(context, traceId, 'r', SpanKind.SERVER, {}, []).decision ===
              SamplingDecision.RECORD_AND_SAMPLED;
            const got = sampled(setting, parent, t);
            assert.equal(got, want, `${name} ${ratio} trace ${traceId} parent ${String(parent)}`);
            if (got && parent === undefined) kept++;
          }
        }
        if (name.endsWith('traceidratio')) assert.ok(Math.abs(kept / 2000 - ratio) < 0.05);
      });

  test('an invalid sampler or ratio is named in a warning and replaced as the SDK does', () => {
    const warnings: string[] = [];
    assert.deepEqual(
      samplerSetting({ OTEL_TRACES_SAMPLER: 'jaeger_remote' }, (w) => warnings.push(w)),
      {
        root: 'always_on',
        ratio: 1,
        parentBased: true,
      },
    );
    assert.deepEqual(
      samplerSetting({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }, (w) =>
        warnings.push(w),
      ),
      { root: 'ratio', ratio: 1, parentBased: false },
    );
    assert.match(warnings[0]!, /OTEL_TRACES_SAMPLER: jaeger_remote is not one of/);
    assert.match(warnings[1]!, /OTEL_TRACES_SAMPLER_ARG: expected a ratio in \[0, 1\], got 2/);
  });
});
