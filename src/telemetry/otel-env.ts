/**
 * Whether the standard OpenTelemetry environment variables ask for traces, and how to export them.
 * A pure function of the environment, so that every rule is tested without an SDK:
 *
 * - `OTEL_SDK_DISABLED=true` turns everything off;
 * - `OTEL_TRACES_EXPORTER` lists exporters: `otlp` turns traces on, `none` (alone) off, others are
 *   not shipped and are named in a warning;
 * - without `OTEL_TRACES_EXPORTER`, an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT` or
 *   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) turns traces on: setting where to send them is asking for
 *   them. With none of these, tracing stays off and no SDK is loaded.
 * - `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf` (the
 *   default) or `http/json`; `grpc` is not shipped and falls back to `http/protobuf` with a warning.
 *
 * @module
 */

/** What the environment asks for. */
export interface TracingRequest {
  readonly enabled: boolean;
  readonly protocol: 'http/protobuf' | 'http/json';
  /** Settings that were given but are not followed, each with the reason. */
  readonly warnings: readonly string[];
}

const off = (warnings: string[] = []): TracingRequest => ({
  enabled: false,
  protocol: 'http/protobuf',
  warnings,
});

/** Reads the OTEL_* variables of `env`. */
export function tracingRequest(env: NodeJS.ProcessEnv): TracingRequest {
  const value = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  if (value('OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return off();
  const warnings: string[] = [];
  const exporters = value('OTEL_TRACES_EXPORTER')
    ?.split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== '');
  let enabled: boolean;
  if (exporters !== undefined) {
    const others = exporters.filter((e) => e !== 'otlp' && e !== 'none');
    if (others.length > 0)
      warnings.push(
        `OTEL_TRACES_EXPORTER: ${others.join(', ')} not shipped with mlscale (only otlp); ignored`,
      );
    enabled = exporters.includes('otlp');
  } else {
    enabled =
      value('OTEL_EXPORTER_OTLP_ENDPOINT') !== undefined ||
      value('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') !== undefined;
  }
  if (!enabled) return off(warnings);
  const given = value('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? value('OTEL_EXPORTER_OTLP_PROTOCOL');
  let protocol: TracingRequest['protocol'] = 'http/protobuf';
  if (given === 'http/json') protocol = 'http/json';
  else if (given !== undefined && given !== 'http/protobuf')
    warnings.push(
      `OTEL_EXPORTER_OTLP_PROTOCOL: ${given} is not shipped with mlscale (http/protobuf, http/json); using http/protobuf`,
    );
  return { enabled: true, protocol, warnings };
}

/** The sampler OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG name, as data. */
export interface SamplerSetting {
  /** For a root span (no parent), or for every span when not parent-based. */
  readonly root: 'always_on' | 'always_off' | 'ratio';
  /** The ratio, for `root` 'ratio'. */
  readonly ratio: number;
  /** Whether a span with a parent follows the parent's sampled flag. */
  readonly parentBased: boolean;
}

const kSamplers = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

/**
 * The sampler the OTEL_TRACES_SAMPLER variables of `env` name (default `parentbased_always_on`, as
 * in the SDK); `warn` is told of a name or a ratio that is not valid, and what is used instead.
 */
export function samplerSetting(
  env: NodeJS.ProcessEnv,
  warn: (message: string) => void = () => {},
): SamplerSetting {
  let name = env['OTEL_TRACES_SAMPLER']?.trim().toLowerCase() || 'parentbased_always_on';
  if (!kSamplers.includes(name)) {
    warn(
      `OTEL_TRACES_SAMPLER: ${name} is not one of ${kSamplers.join(', ')}; using parentbased_always_on`,
    );
    name = 'parentbased_always_on';
  }
  const parentBased = name.startsWith('parentbased_');
  const root = name.replace('parentbased_', '');
  if (root !== 'traceidratio')
    return {
      root: root as 'always_on' | 'always_off',
      ratio: root === 'always_on' ? 1 : 0,
      parentBased,
    };
  const given = env['OTEL_TRACES_SAMPLER_ARG']?.trim();
  let ratio = given === undefined || given === '' ? NaN : Number(given);
  if (!(ratio >= 0 && ratio <= 1)) {
    warn(`OTEL_TRACES_SAMPLER_ARG: expected a ratio in [0, 1], got ${String(given)}; using 1`);
    ratio = 1;
  }
  return { root: 'ratio', ratio, parentBased };
}
