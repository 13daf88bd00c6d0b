/*
 * Operations metrics of the audited agent, with the ecosystem's own packages
 * (`@opentelemetry/sdk-metrics`, the OTLP/HTTP metrics exporter). They are derived from the
 * audit spans as those end — the same attributes the trail records, so a metric never says
 * something the trail does not — plus two gauges of the audit path's own health.
 *
 * Metrics are operations data, not evidence: they are exported directly (not through the WORM
 * store), and an export failure is the exporter's to log; it never reaches the agent.
 */
import {
  ATTR_AGENT_ID,
  ATTR_AUDIT_VIOLATION,
  ATTR_DECISION_OUTCOME,
  ATTR_ERROR_TYPE,
  ATTR_PERMISSION_DENIAL_TYPE,
  ATTR_PERMISSION_DENIED,
  ATTR_TOOL_NAME,
  AUDIT_INSTRUMENTATION_SCOPE,
} from '@agent-audit/instrumentation';
import {
  type Attributes,
  type Counter,
  diag,
  type Histogram,
  type Meter,
  type ObservableGauge,
  SpanStatusCode,
} from '@opentelemetry/api';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { AuditRecordEntry, AuditRecordSink } from './internal-types.js';
import { ATTR_GEN_AI_OPERATION_NAME, GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL } from './semconv.js';

/** Metric names (instrument names; Prometheus shows them with `_` and unit suffixes). */
export const METRIC_TOOL_INVOCATIONS = 'agent_audit.tool.invocations';
export const METRIC_TOOL_DURATION = 'agent_audit.tool.duration';
export const METRIC_PERMISSION_DENIALS = 'agent_audit.permission.denials';
export const METRIC_AUDIT_VIOLATIONS = 'agent_audit.audit.violations';
export const METRIC_STORE_APPEND_LAG = 'agent_audit.store.append_lag';
export const METRIC_FORWARDER_BACKLOG = 'agent_audit.forwarder.backlog';

/** `status` of a tool invocation: it ran and returned, it ran and threw, or the gate refused it. */
export type ToolCallStatus = 'ok' | 'error' | 'refused';

/** The `error.type`s of the audit layer's refusals (`ToolCallRefusedError` and subclasses). */
const REFUSALS = new Set([
  'ToolCallRefusedError',
  'PolicyStopError',
  'ApprovalRequiredError',
  'AuditRefusedError',
  'MissingRunContextError',
]);

/**
 * Tool durations in seconds: from 50 µs (an in-process tool) to a minute. The default
 * boundaries start at 5 ms, too coarse for the latency percentiles of fast tools.
 */
export const TOOL_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
  5, 10, 30, 60,
]);

/** What the gauges read. */
export interface AuditMetricsSources {
  /** Age in seconds of the oldest record handed to the store and not yet durable (0 when none). */
  appendLagSeconds?: () => number;
  /** Records stored but not yet forwarded, when known. */
  forwarderBacklog?: () => Promise<number | undefined>;
}

/**
 * A span processor that turns ending audit spans into metrics; registered after the
 * {@link AuditSpanProcessor} so that it sees the violations that one adds. Never throws.
 */
export class AuditMetricsProcessor implements SpanProcessor {
  private readonly invocations: Counter;
  private readonly duration: Histogram;
  private readonly denials: Counter;
  private readonly violations: Counter;
  private readonly gauges: ObservableGauge[] = [];
  private errors = 0;

  constructor(meter: Meter, sources: AuditMetricsSources = {}) {
    this.invocations = meter.createCounter(METRIC_TOOL_INVOCATIONS, {
      description: 'Audited tool calls, by agent, tool, decision outcome and status',
      unit: '{call}',
    });
    this.duration = meter.createHistogram(METRIC_TOOL_DURATION, {
      description: 'Duration of audited tool calls (span start to end, high-resolution clock)',
      unit: 's',
      advice: { explicitBucketBoundaries: [...TOOL_DURATION_BUCKETS] },
    });
    this.denials = meter.createCounter(METRIC_PERMISSION_DENIALS, {
      description: 'Tool calls denied permission (tool errors and policy stops), by type',
      unit: '{call}',
    });
    this.violations = meter.createCounter(METRIC_AUDIT_VIOLATIONS, {
      description: 'Audit completeness violations (audit.violation codes) on audit spans',
      unit: '{violation}',
    });
    const { appendLagSeconds, forwarderBacklog } = sources;
    if (appendLagSeconds !== undefined) {
      const gauge = meter.createObservableGauge(METRIC_STORE_APPEND_LAG, {
        description: 'Age of the oldest audit record handed to the store and not yet durable',
        unit: 's',
      });
      gauge.addCallback((result) => {
        try {
          result.observe(appendLagSeconds());
        } catch (err) {
          this.failed('append lag', err);
        }
      });
      this.gauges.push(gauge);
    }
    if (forwarderBacklog !== undefined) {
      const gauge = meter.createObservableGauge(METRIC_FORWARDER_BACKLOG, {
        description: 'Records in the store not yet forwarded to the OTLP endpoint',
        unit: '{record}',
      });
      gauge.addCallback(async (result) => {
        try {
          const backlog = await forwarderBacklog();
          if (backlog !== undefined) result.observe(backlog);
        } catch (err) {
          this.failed('forwarder backlog', err);
        }
      });
      this.gauges.push(gauge);
    }
  }

  onStart(_span: Span): void {}

  onEnd(span: ReadableSpan): void {
    try {
      if (span.instrumentationScope.name !== AUDIT_INSTRUMENTATION_SCOPE) return;
      const attrs = span.attributes;
      const violations = attrs[ATTR_AUDIT_VIOLATION];
      if (Array.isArray(violations)) {
        for (const code of violations) {
          if (typeof code === 'string') this.violations.add(1, { [ATTR_AUDIT_VIOLATION]: code });
        }
      }
      if (attrs[ATTR_GEN_AI_OPERATION_NAME] !== GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL) return;
      const labels: Attributes = {
        [ATTR_AGENT_ID]: str(attrs[ATTR_AGENT_ID]),
        [ATTR_TOOL_NAME]: str(attrs[ATTR_TOOL_NAME]),
      };
      const status = statusOf(span);
      this.invocations.add(1, {
        ...labels,
        [ATTR_DECISION_OUTCOME]: str(attrs[ATTR_DECISION_OUTCOME]),
        status,
      });
      // A refused call never ran: it has no tool duration.
      if (status !== 'refused') {
        this.duration.record(hrTimeToMilliseconds(span.duration) / 1000, { ...labels, status });
      }
      if (attrs[ATTR_PERMISSION_DENIED] === true) {
        this.denials.add(1, {
          ...labels,
          [ATTR_PERMISSION_DENIAL_TYPE]: str(attrs[ATTR_PERMISSION_DENIAL_TYPE]),
        });
      }
    } catch (err) {
      this.failed('a span', err);
    }
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }

  private failed(what: string, err: unknown): void {
    // Once: a broken metric must not flood the log of the agent it observes.
    if (this.errors++ === 0) diag.error(`agent-audit metrics: recording ${what} failed`, err);
  }
}

function statusOf(span: ReadableSpan): ToolCallStatus {
  if (span.status.code !== SpanStatusCode.ERROR) return 'ok';
  const type = span.attributes[ATTR_ERROR_TYPE];
  return typeof type === 'string' && REFUSALS.has(type) ? 'refused' : 'error';
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : 'unknown';
}

/**
 * A sink in front of the store that knows how long its oldest unsettled append has waited.
 * The store settles appends in sequence order (one group commit answers a prefix), so a queue
 * of start times, consumed from the front, is exact for successes and close for failures.
 */
export class AppendLagSink implements AuditRecordSink {
  private starts: number[] = [];
  private first = 0;
  private readonly settle = (): void => {
    this.first++;
    // Compact now and then: amortised O(1) per record, bounded memory.
    if (this.first >= 1024 && this.first * 2 >= this.starts.length) {
      this.starts = this.starts.slice(this.first);
      this.first = 0;
    }
  };

  constructor(private readonly sink: AuditRecordSink) {}

  append(entry: AuditRecordEntry): Promise<unknown> {
    const durable = this.sink.append(entry);
    this.starts.push(performance.now());
    durable.then(this.settle, this.settle);
    return durable;
  }

  flushSync(): void {
    this.sink.flushSync();
  }

  /** Seconds the oldest unsettled append has waited; 0 when every append has settled. */
  lagSeconds(): number {
    if (this.first >= this.starts.length) return 0;
    return (performance.now() - this.starts[this.first]!) / 1000;
  }
}
