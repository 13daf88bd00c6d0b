/*
 * The metrics side of registerAgentAudit: which exporters (code > `OTEL_METRICS_EXPORTER` >
 * off), where OTLP goes, how often; and starting the MeterProvider with them.
 */
import { metrics as metricsApi } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import type { Resource } from '@opentelemetry/resources';
import {
  ConsoleMetricExporter,
  MeterProvider,
  type MetricReader,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { AuditMetricsProcessor, type AuditMetricsSources } from './audit-metrics.js';

/** The `metrics` option of registerAgentAudit. */
export interface MetricsOptions {
  /**
   * `otlp` (OTLP/HTTP protobuf to `endpoint`), `console`, or `none`. Env `OTEL_METRICS_EXPORTER`
   * (a comma-separated list, as the OpenTelemetry SDKs read it). The default value is `otlp`
   * when metrics are on.
   */
  exporter?: 'otlp' | 'console' | 'none';
  /**
   * OTLP/HTTP metrics URL. Env `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, else
   * `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/metrics`. The default value is
   * `http://localhost:4318/v1/metrics`.
   */
  endpoint?: string;
  /** Export interval in ms. Env `OTEL_METRIC_EXPORT_INTERVAL`. The default value is 60000. */
  exportIntervalMillis?: number;
  /** More readers (a Prometheus exporter, an in-memory reader in tests). The default value is none. */
  readers?: MetricReader[];
}

export interface ResolvedMetrics {
  exporters: Array<'otlp' | 'console'>;
  endpoint: string;
  exportIntervalMillis: number;
  exportTimeoutMillis: number;
  readers: MetricReader[];
}

export const DEFAULT_OTLP_METRICS_ENDPOINT = 'http://localhost:4318/v1/metrics';
const DEFAULT_INTERVAL_MILLIS = 60_000;
const DEFAULT_TIMEOUT_MILLIS = 30_000;
const EXPORTERS = new Set(['otlp', 'console', 'none']);

/**
 * Undefined when metrics are off: `metrics: false`, or neither the option nor
 * `OTEL_METRICS_EXPORTER` asks for them (unlike the OpenTelemetry SDKs, whose default is
 * `otlp`: the audit path costs nothing extra unless metrics are wanted). A bad option throws;
 * a bad environment value warns and falls back.
 */
export function resolveMetrics(
  option: boolean | MetricsOptions | undefined,
  env: NodeJS.ProcessEnv,
): ResolvedMetrics | undefined {
  if (option === false) return undefined;
  if (option !== undefined && option !== true && (option === null || typeof option !== 'object')) {
    throw invalid(
      'metrics',
      'a boolean or { exporter, endpoint, exportIntervalMillis, readers }',
      typeof option,
    );
  }
  const code = typeof option === 'object' ? option : {};
  if (code.exporter !== undefined && !EXPORTERS.has(code.exporter)) {
    throw invalid('metrics.exporter', 'otlp, console or none', JSON.stringify(code.exporter));
  }
  const fromEnv = envExporters(env);
  // The environment alone turns metrics on only with an exporter (`none` keeps them off).
  if (option === undefined && (fromEnv === undefined || fromEnv.length === 0)) return undefined;
  const exporters =
    code.exporter !== undefined
      ? code.exporter === 'none'
        ? []
        : [code.exporter]
      : (fromEnv ?? ['otlp']);
  if (code.readers !== undefined && !Array.isArray(code.readers)) {
    throw invalid('metrics.readers', 'an array of MetricReader', typeof code.readers);
  }
  return {
    exporters,
    endpoint: metricsEndpoint(code.endpoint, env),
    exportIntervalMillis:
      positive('metrics.exportIntervalMillis', code.exportIntervalMillis) ??
      envMillis(env, 'OTEL_METRIC_EXPORT_INTERVAL') ??
      DEFAULT_INTERVAL_MILLIS,
    exportTimeoutMillis: envMillis(env, 'OTEL_METRIC_EXPORT_TIMEOUT') ?? DEFAULT_TIMEOUT_MILLIS,
    readers: [...(code.readers ?? [])],
  };
}

/** A started MeterProvider and the span processor that feeds it. */
export interface StartedMetrics {
  readonly provider: MeterProvider;
  readonly processor: AuditMetricsProcessor;
  /** Whether this provider became the global one (`metrics.getMeterProvider()`). */
  readonly global: boolean;
}

export function startMetrics(
  config: ResolvedMetrics,
  resource: Resource,
  sources: AuditMetricsSources,
): StartedMetrics {
  const readers: MetricReader[] = [...config.readers];
  const interval = config.exportIntervalMillis;
  const timeout = Math.min(config.exportTimeoutMillis, interval);
  for (const name of config.exporters) {
    const exporter =
      name === 'otlp'
        ? new OTLPMetricExporter({ url: config.endpoint })
        : new ConsoleMetricExporter();
    readers.push(
      new PeriodicExportingMetricReader({
        exporter,
        exportIntervalMillis: interval,
        exportTimeoutMillis: timeout,
      }),
    );
  }
  const provider = new MeterProvider({ resource, readers });
  const global = metricsApi.setGlobalMeterProvider(provider);
  const processor = new AuditMetricsProcessor(
    provider.getMeter('@agent-audit/sdk', '0.1.0'),
    sources,
  );
  return { provider, processor, global };
}

function metricsEndpoint(explicit: string | undefined, env: NodeJS.ProcessEnv): string {
  if (explicit !== undefined) {
    if (!isHttpUrl(explicit))
      throw invalid('metrics.endpoint', 'an http(s) URL', JSON.stringify(explicit));
    return explicit;
  }
  const own = env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT?.trim();
  if (own) {
    if (isHttpUrl(own)) return own;
    warn(`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=${own} is not an http(s) URL; using the default`);
  }
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (base && isHttpUrl(base)) return `${base.replace(/\/+$/, '')}/v1/metrics`;
  return DEFAULT_OTLP_METRICS_ENDPOINT;
}

function envExporters(env: NodeJS.ProcessEnv): Array<'otlp' | 'console'> | undefined {
  const raw = env.OTEL_METRICS_EXPORTER?.trim().toLowerCase();
  if (!raw) return undefined;
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const bad = names.filter((n) => !EXPORTERS.has(n));
  if (bad.length > 0) {
    warn(
      `OTEL_METRICS_EXPORTER=${env.OTEL_METRICS_EXPORTER} names unsupported exporters (${bad.join(', ')}); supported: otlp, console, none`,
    );
  }
  if (names.includes('none')) return [];
  const good = [...new Set(names.filter((n) => n === 'otlp' || n === 'console'))] as Array<
    'otlp' | 'console'
  >;
  return good.length > 0 ? good : undefined;
}

function envMillis(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const n = Number(raw);
  if (Number.isInteger(n) && n > 0) return n;
  warn(`${name}=${raw} is not a positive integer (milliseconds); using the default`);
  return undefined;
}

function positive(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw invalid(name, 'a positive integer (milliseconds)', String(value));
  }
  return value;
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

function invalid(name: string, expected: string, actual: string): Error {
  return new Error(`Configuration: ${name} is invalid, expected ${expected} (actual: ${actual})`);
}

function warn(message: string): void {
  process.emitWarning(message, { code: 'AGENT_AUDIT_CONFIG' });
}
