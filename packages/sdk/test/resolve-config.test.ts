import { describe, expect, it, vi } from 'vitest';
import { resolveConfig } from '../src/resolve-config.js';

describe('resolveConfig', () => {
  it('uses the documented defaults with an empty environment', () => {
    expect(resolveConfig({}, {})).toMatchObject({
      serviceName: 'unknown_service:node',
      storeDir: './.agent-audit',
      trustDir: './.agent-audit-trust',
      otlpEndpoint: 'http://localhost:4318/v1/traces',
      forward: true,
      strict: false,
      failClosed: false,
      captureContent: false,
      installExitHandlers: true,
    });
  });

  it('takes the environment over defaults, and code over the environment', () => {
    const env = {
      OTEL_SERVICE_NAME: 'env-svc',
      AGENT_AUDIT_STORE_DIR: '/env/store',
      AGENT_AUDIT_TRUST_DIR: '/env/trust',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
      AGENT_AUDIT_STRICT: 'true',
      AGENT_AUDIT_FAIL_CLOSED: '1',
      AGENT_AUDIT_FORWARD: 'false',
    };
    expect(resolveConfig({}, env)).toMatchObject({
      serviceName: 'env-svc',
      storeDir: '/env/store',
      trustDir: '/env/trust',
      otlpEndpoint: 'http://collector:4318/v1/traces',
      strict: true,
      failClosed: true,
      forward: false,
    });
    expect(
      resolveConfig(
        {
          serviceName: 'code-svc',
          storeDir: '/code/store',
          trustDir: '/code/trust',
          otlpEndpoint: 'http://code:4318/v1/traces',
          strict: false,
          failClosed: false,
          forward: true,
        },
        env,
      ),
    ).toMatchObject({
      serviceName: 'code-svc',
      storeDir: '/code/store',
      trustDir: '/code/trust',
      otlpEndpoint: 'http://code:4318/v1/traces',
      strict: false,
      failClosed: false,
      forward: true,
    });
  });

  it('prefers the signal-specific traces endpoint, used as is', () => {
    expect(
      resolveConfig(
        {},
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base:4318',
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:9999/custom/path',
        },
      ).otlpEndpoint,
    ).toBe('http://traces:9999/custom/path');
  });

  it('throws on a bad option in code, warns and falls back on a bad environment value', () => {
    expect(() => resolveConfig({ strict: 'yes' as unknown as boolean }, {})).toThrow(
      'Configuration: strict is invalid, expected a boolean (actual: string)',
    );
    expect(() => resolveConfig({ storeDir: '' }, {})).toThrow(/Configuration: storeDir is invalid/);
    expect(() => resolveConfig({ otlpEndpoint: 'not a url' }, {})).toThrow(
      /Configuration: otlpEndpoint is invalid, expected an http\(s\) URL/,
    );
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      expect(resolveConfig({}, { AGENT_AUDIT_STRICT: 'maybe' }).strict).toBe(false);
      expect(warn).toHaveBeenCalledWith(
        expect.stringContaining('AGENT_AUDIT_STRICT=maybe is not a boolean'),
        expect.anything(),
      );
    } finally {
      warn.mockRestore();
    }
  });

  it.each([
    ['always_off', undefined],
    ['traceidratio', '0.5'],
    ['parentbased_traceidratio', '0'],
    ['parentbased_always_off', undefined],
    ['jaeger_remote', undefined],
  ])('refuses OTEL_TRACES_SAMPLER=%s (arg %s): it would drop audit spans', (sampler, arg) => {
    const env: Record<string, string> = { OTEL_TRACES_SAMPLER: sampler };
    if (arg !== undefined) env.OTEL_TRACES_SAMPLER_ARG = arg;
    expect(() => resolveConfig({}, env)).toThrow(/would drop .*audit spans.*always_on/);
  });

  it.each([
    ['always_on', undefined],
    ['parentbased_always_on', undefined],
    ['traceidratio', '1'],
    ['parentbased_traceidratio', undefined],
  ])('accepts OTEL_TRACES_SAMPLER=%s (arg %s): it keeps every span', (sampler, arg) => {
    const env: Record<string, string> = { OTEL_TRACES_SAMPLER: sampler };
    if (arg !== undefined) env.OTEL_TRACES_SAMPLER_ARG = arg;
    expect(() => resolveConfig({}, env)).not.toThrow();
  });
});
