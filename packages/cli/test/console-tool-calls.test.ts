/**
 * The dashboards count tool calls by the one rule of trail-span.ts (`isToolCall`), as explain
 * does: the audit's `execute_tool` span is a tool call; a framework's own `execute_tool` span
 * of the same call (the AI SDK's telemetry, no audit hashes) is not, nor is a span that only
 * mentions a tool.
 */
import { AUDIT_INSTRUMENTATION_SCOPE } from '@agent-audit/instrumentation/attributes';
import { describe, expect, it } from 'vitest';
import { ToolCallTable } from '../src/console/tool-call-table.js';
import { spansOfExportRequest } from '../src/otlp-json.js';
import { isToolCall, trailSpanOf } from '../src/trail-span.js';

const now = BigInt(Date.UTC(2026, 11, 1)) * 1_000_000n;

function request(
  scope: string,
  spanId: string,
  name: string,
  attributes: Record<string, string>,
): unknown {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'agent' } }] },
        scopeSpans: [
          {
            scope: { name: scope },
            spans: [
              {
                traceId: 'ab'.repeat(16),
                spanId,
                name,
                kind: 1,
                startTimeUnixNano: String(now),
                endTimeUnixNano: String(now + 2_000_000n),
                attributes: Object.entries({ 'workflow.run_id': 'run-1', ...attributes }).map(
                  ([key, value]) => ({ key, value: { stringValue: value } }),
                ),
                events: [],
                status: { code: 1 },
              },
            ],
          },
        ],
      },
    ],
  };
}

describe('ToolCallTable', () => {
  it('counts the audit record of a tool call, not the framework telemetry beside it', () => {
    const records = [
      // The audit's record of the call.
      request(AUDIT_INSTRUMENTATION_SCOPE, '01'.repeat(8), 'execute_tool lookup', {
        'gen_ai.operation.name': 'execute_tool',
        'tool.name': 'lookup',
        'input.hash': `sha256:${'0'.repeat(64)}`,
      }),
      // The AI SDK's own span of the same call: telemetry, not an audit record.
      request('ai', '02'.repeat(8), 'execute_tool lookup', {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': 'lookup',
      }),
      // A span that names a tool but is not a call of it.
      request(AUDIT_INSTRUMENTATION_SCOPE, '03'.repeat(8), 'approval lookup', {
        'gen_ai.operation.name': 'approval',
        'tool.name': 'lookup',
      }),
    ];
    const table = new ToolCallTable();
    for (const r of records) table.add('span.end', r);
    const figures = table.figures(undefined, undefined);
    const byRule = records
      .flatMap((r) => spansOfExportRequest(r))
      .filter((v) => isToolCall(trailSpanOf(v, true, null)));
    expect(byRule.map((v) => v.spanId)).toEqual(['01'.repeat(8)]);
    expect(figures.tool_calls).toBe(1);
    expect(figures.activity.by_tool).toMatchObject([{ tool: 'lookup', calls: 1 }]);
  });
});
