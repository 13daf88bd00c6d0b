import { createHash } from 'node:crypto';
import { type Span, SpanKind, type Tracer } from '@opentelemetry/api';

/** ~1 KB of JSON, like a typical tool argument object (what input.hash has to digest). */
export function oneKbInput(): Record<string, unknown> {
  const input: Record<string, unknown> = { query: 'refund status for order', page: 1, filters: {} };
  for (let i = 0; JSON.stringify(input).length < 1024; i++) {
    (input.filters as Record<string, string>)[`field_${i}`] = `value-${i}-${'x'.repeat(i % 7)}`;
  }
  return input;
}

/**
 * An exporter that keeps nothing, for any OpenTelemetry JS SDK major (2.x for the peers, 3.x for
 * ours): the bare and peer arms measure the tracing work, not a network.
 */
export class DiscardingExporter {
  export(_spans: unknown[], done: (result: { code: number }) => void): void {
    done({ code: 0 });
  }
  async shutdown(): Promise<void> {}
  async forceFlush(): Promise<void> {}
}

/**
 * The bare span every ratio is measured against: the usual OpenTelemetry tool span with the same
 * attributes as an audited one and the same SHA-256 of the input, in the tracer's provider (a
 * BatchSpanProcessor feeding a {@link DiscardingExporter}). The caller runs the tool in its
 * context and ends it: `await context.with(trace.setSpan(context.active(), span), tool);
 * span.end();` (no extra async frame around the tool, as in the audited path's loop).
 */
export function startBareToolSpan(tracer: Tracer, input: unknown): Span {
  const span = tracer.startSpan('execute_tool search', {
    kind: SpanKind.INTERNAL,
    attributes: {
      'gen_ai.operation.name': 'execute_tool',
      'tool.name': 'search',
      'gen_ai.tool.name': 'search',
      'agent.id': 'bench-agent',
      'workflow.run_id': 'run-bench',
      'credential.ref': 'cred-bench',
    },
  });
  const hash = createHash('sha256').update(JSON.stringify(input)).digest('hex');
  span.setAttribute('input.hash', `sha256:${hash}`);
  return span;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
