import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWorkflow, traceToolCall } from '@agent-audit/instrumentation';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { AppendLagSink } from '../src/audit-metrics.js';
import { DEFAULT_OTLP_METRICS_ENDPOINT, resolveMetrics } from '../src/metrics-config.js';
import { type AgentAuditHandle, registerAgentAudit } from '../src/register-agent-audit.js';

describe('resolveMetrics (code > OTEL_METRICS_EXPORTER > off)', () => {
  it('is off by default, and with OTEL_METRICS_EXPORTER=none', () => {
    expect(resolveMetrics(undefined, {})).toBeUndefined();
    expect(resolveMetrics(undefined, { OTEL_METRICS_EXPORTER: 'none' })).toBeUndefined();
    expect(resolveMetrics(false, { OTEL_METRICS_EXPORTER: 'otlp' })).toBeUndefined();
  });

  it('turns on from the environment, with the ecosystem endpoint and interval variables', () => {
    const r = resolveMetrics(undefined, {
      OTEL_METRICS_EXPORTER: 'otlp,console',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
      OTEL_METRIC_EXPORT_INTERVAL: '1500',
    });
    expect(r).toMatchObject({
      exporters: ['otlp', 'console'],
      endpoint: 'http://collector:4318/v1/metrics',
      exportIntervalMillis: 1500,
    });
    expect(
      resolveMetrics(true, {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://b:9000/m',
      })?.endpoint,
    ).toBe('http://b:9000/m');
    expect(resolveMetrics(true, {})).toMatchObject({
      exporters: ['otlp'],
      endpoint: DEFAULT_OTLP_METRICS_ENDPOINT,
      exportIntervalMillis: 60_000,
    });
  });

  it('code wins over the environment', () => {
    const r = resolveMetrics(
      { exporter: 'console', endpoint: 'https://m.example/v1/metrics', exportIntervalMillis: 250 },
      { OTEL_METRICS_EXPORTER: 'otlp', OTEL_METRIC_EXPORT_INTERVAL: '9000' },
    );
    expect(r).toMatchObject({
      exporters: ['console'],
      endpoint: 'https://m.example/v1/metrics',
      exportIntervalMillis: 250,
    });
  });

  it('a bad option throws a Configuration error; a bad environment value warns and falls back', async () => {
    expect(() => resolveMetrics('yes' as never, {})).toThrow(
      /^Configuration: metrics is invalid, expected a boolean or/,
    );
    expect(() => resolveMetrics({ exporter: 'prometheus' as never }, {})).toThrow(
      /^Configuration: metrics\.exporter is invalid, expected otlp, console or none \(actual: "prometheus"\)/,
    );
    expect(() => resolveMetrics({ exportIntervalMillis: -1 }, {})).toThrow(
      /^Configuration: metrics\.exportIntervalMillis is invalid/,
    );
    expect(() => resolveMetrics({ endpoint: 'ftp://x' }, {})).toThrow(
      /^Configuration: metrics\.endpoint is invalid, expected an http\(s\) URL/,
    );
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const r = resolveMetrics(undefined, {
        OTEL_METRICS_EXPORTER: 'otlp,zipkin',
        OTEL_METRIC_EXPORT_INTERVAL: 'soon',
      });
      expect(r).toMatchObject({ exporters: ['otlp'], exportIntervalMillis: 60_000 });
      // emitWarning is delivered on a later tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.join('\n')).toMatch(/OTEL_METRICS_EXPORTER=otlp,zipkin names unsupported/);
    expect(warnings.join('\n')).toMatch(/OTEL_METRIC_EXPORT_INTERVAL=soon is not a positive/);
  });
});

describe('AppendLagSink', () => {
  it('reports the age of the oldest unsettled append, 0 once all settled, and passes results through', async () => {
    const pending: Array<() => void> = [];
    const sink = new AppendLagSink({
      append: () => new Promise((resolve) => pending.push(() => resolve({ seq: pending.length }))),
      flushSync: () => undefined,
    });
    expect(sink.lagSeconds()).toBe(0);
    const first = sink.append({ type: 'event', tags: {}, payload: {} } as never);
    sink.append({ type: 'event', tags: {}, payload: {} } as never);
    expect(sink.lagSeconds()).toBeGreaterThan(0);
    pending[0]!();
    await first;
    await Promise.resolve();
    expect(sink.lagSeconds()).toBeGreaterThan(0);
    pending[1]!();
    await new Promise((r) => setImmediate(r));
    expect(sink.lagSeconds()).toBe(0);
  });
});

describe('registerAgentAudit({ metrics }) with an in-memory reader', () => {
  let audit: AgentAuditHandle | undefined;
  let root: string | undefined;
  afterEach(async () => {
    await audit?.shutdown();
    audit = undefined;
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('records each instrument from the audit spans, with the store as the sink', async () => {
    root = mkdtempSync(join(tmpdir(), 'aa-metrics-'));
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    audit = registerAgentAudit({
      storeDir: join(root, 'store'),
      trustDir: join(root, 'trust'),
      forward: false,
      installExitHandlers: false,
      metrics: { exporter: 'none', readers: [reader] },
    });
    await runWorkflow({ agentId: 'm-agent', credentialRef: 'cred:m' }, async () => {
      await traceToolCall({ toolName: 't.ok', input: { a: 1 } }, () => 1);
      await traceToolCall({ toolName: 't.denied', input: { a: 1 } }, () => {
        throw Object.assign(new Error('Forbidden'), { status: 403 });
      }).catch(() => undefined);
    });
    await audit.forceFlush();
    const points = new Map<
      string,
      Array<{ attributes: Record<string, unknown>; value: unknown }>
    >();
    for (const rm of exporter.getMetrics()) {
      for (const sm of rm.scopeMetrics) {
        for (const m of sm.metrics) {
          points.set(
            m.descriptor.name,
            m.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value })),
          );
        }
      }
    }
    expect(points.get('agent_audit.tool.invocations')).toEqual(
      expect.arrayContaining([
        {
          attributes: {
            'agent.id': 'm-agent',
            'tool.name': 't.ok',
            'decision.outcome': 'allow',
            status: 'ok',
          },
          value: 1,
        },
        {
          attributes: {
            'agent.id': 'm-agent',
            'tool.name': 't.denied',
            'decision.outcome': 'allow',
            status: 'error',
          },
          value: 1,
        },
      ]),
    );
    expect(points.get('agent_audit.permission.denials')).toEqual([
      {
        attributes: {
          'agent.id': 'm-agent',
          'tool.name': 't.denied',
          'permission.denial_type': 'network',
        },
        value: 1,
      },
    ]);
    const histogram = points.get('agent_audit.tool.duration') ?? [];
    expect(histogram.map((p) => (p.value as { count: number }).count)).toEqual([1, 1]);
    expect(points.has('agent_audit.store.append_lag')).toBe(true);
    // No forwarder (forward: false): the backlog gauge observes nothing.
    expect(points.get('agent_audit.forwarder.backlog') ?? []).toEqual([]);
  });
});
