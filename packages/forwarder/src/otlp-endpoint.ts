/** The OTLP/HTTP default of the specification, for a collector or Jaeger on this machine. */
export const DEFAULT_OTLP_TRACES_ENDPOINT = 'http://localhost:4318/v1/traces';

/**
 * The traces URL by the OTLP exporter rules: an explicit value wins; else the signal-specific
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as is; else `OTEL_EXPORTER_OTLP_ENDPOINT` gets
 * `/v1/traces` appended; else the default.
 */
export function resolveTracesEndpoint(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (explicit !== undefined && explicit !== '') {
    assertUrl('otlpEndpoint', explicit, true);
    return explicit;
  }
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces && assertUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', traces, false)) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (base && assertUrl('OTEL_EXPORTER_OTLP_ENDPOINT', base, false)) {
    return `${base.replace(/\/+$/, '')}/v1/traces`;
  }
  return DEFAULT_OTLP_TRACES_ENDPOINT;
}

/** `OTEL_EXPORTER_OTLP_TRACES_HEADERS` / `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`, URL-encoded). */
export function resolveOtlpHeaders(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of [env.OTEL_EXPORTER_OTLP_HEADERS, env.OTEL_EXPORTER_OTLP_TRACES_HEADERS]) {
    if (!raw) continue;
    for (const pair of raw.split(',')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      try {
        out[decodeURIComponent(pair.slice(0, eq).trim())] = decodeURIComponent(
          pair.slice(eq + 1).trim(),
        );
      } catch {
        // A malformed header from the environment is skipped, as the OTel exporters do.
      }
    }
  }
  return out;
}

function assertUrl(name: string, value: string, throwOnError: boolean): boolean {
  let ok = false;
  try {
    const url = new URL(value);
    ok = url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    ok = false;
  }
  if (!ok && throwOnError) {
    throw new Error(
      `Configuration: ${name} is invalid, expected an http(s) URL (actual: ${value})`,
    );
  }
  if (!ok) {
    process.emitWarning(`${name} is not an http(s) URL (${value}); ignored`, {
      code: 'AGENT_AUDIT_CONFIG',
    });
  }
  return ok;
}
