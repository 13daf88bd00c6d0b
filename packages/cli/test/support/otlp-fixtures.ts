/**
 * Builders for plausible OTLP/JSON payloads, shaped like what `JsonTraceSerializer` writes
 * (hex ids, nanosecond strings, KeyValue attribute lists), so the CLI is tested against the
 * encoding the SDK really stores.
 */
export type Scalar = string | number | boolean | string[];

export interface SpanSpec {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP enum: 1 internal, 2 server, 3 client. */
  kind?: number;
  /** Milliseconds since the epoch. */
  startMs: number;
  endMs?: number;
  attributes?: Record<string, Scalar>;
  events?: Array<{ name: string; atMs: number; attributes?: Record<string, Scalar> }>;
  status?: { code: number; message?: string };
  service?: string;
  pid?: number;
}

function anyValue(value: Scalar): Record<string, unknown> {
  if (Array.isArray(value))
    return { arrayValue: { values: value.map((v) => ({ stringValue: v })) } };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { intValue: value } : { doubleValue: value };
  }
  return { stringValue: value };
}

export function keyValues(attributes: Record<string, Scalar> = {}): unknown[] {
  return Object.entries(attributes).map(([key, value]) => ({ key, value: anyValue(value) }));
}

const nanos = (ms: number): string => (BigInt(ms) * 1_000_000n).toString();

/** A `span.end` payload: an ExportTraceServiceRequest holding this one span. */
export function spanEndPayload(spec: SpanSpec): Record<string, unknown> {
  return {
    resourceSpans: [
      {
        resource: {
          attributes: keyValues({
            'service.name': spec.service ?? 'orchestrator',
            'process.pid': spec.pid ?? 4242,
            'telemetry.sdk.language': 'nodejs',
          }),
          droppedAttributesCount: 0,
        },
        scopeSpans: [
          {
            scope: { name: '@agent-audit/instrumentation', version: '0.1.0' },
            spans: [
              {
                traceId: spec.traceId,
                spanId: spec.spanId,
                ...(spec.parentSpanId ? { parentSpanId: spec.parentSpanId } : {}),
                name: spec.name,
                kind: spec.kind ?? 1,
                startTimeUnixNano: nanos(spec.startMs),
                endTimeUnixNano: nanos(spec.endMs ?? spec.startMs + 5),
                attributes: keyValues(spec.attributes),
                droppedAttributesCount: 0,
                events: (spec.events ?? []).map((event) => ({
                  name: event.name,
                  timeUnixNano: nanos(event.atMs),
                  attributes: keyValues(event.attributes),
                  droppedAttributesCount: 0,
                })),
                droppedEventsCount: 0,
                status: spec.status ?? { code: 0 },
                links: [],
                droppedLinksCount: 0,
                flags: 257,
              },
            ],
          },
        ],
      },
    ],
  };
}

/** A `span.start` payload: the pre-exec intent. */
export function spanStartPayload(spec: SpanSpec): Record<string, unknown> {
  return {
    traceId: spec.traceId,
    spanId: spec.spanId,
    ...(spec.parentSpanId ? { parentSpanId: spec.parentSpanId } : {}),
    name: spec.name,
    startTimeUnixNano: nanos(spec.startMs),
    attributes: keyValues(spec.attributes),
  };
}

export const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
export const RUN_ID = 'run-7f3c2a1e';
const hash = (c: string) => `sha256:${c.repeat(64)}`;

/**
 * The spans of one demo-like run across two processes: the orchestrator's run span, an LLM
 * call, a search, a database write with a side-effect receipt, an email that needed a human
 * approval (with an edit), a blocked action, a sub-agent in another process with its own tool
 * call, and a tool call whose end was never recorded.
 */
export function demoRun(
  runId = RUN_ID,
  t0 = Date.UTC(2026, 10, 20, 9, 30, 0),
  principal = 'user:456',
) {
  const run = {
    'workflow.run_id': runId,
    'agent.id': 'support-agent',
    'trigger.principal': principal,
    'credential.ref': 'cred:run-token-1',
    'tenant.id': 'acme',
  };
  const sub = { ...run, 'agent.id': 'research-agent' };
  const ended: SpanSpec[] = [
    {
      traceId: TRACE,
      spanId: 'a000000000000001',
      name: 'invoke_agent Support Agent',
      startMs: t0,
      endMs: t0 + 900,
      attributes: {
        ...run,
        'agent.name': 'Support Agent',
        'agent.version': '1.4.0',
        'gen_ai.operation.name': 'invoke_agent',
        'trigger.type': 'human',
        'input.hash': hash('1'),
        'gen_ai.request.model': 'scripted-1',
        'workflow.name': 'refund',
      },
      events: [
        {
          name: 'credential.issued',
          atMs: t0 + 1,
          attributes: {
            'credential.ref': 'cred:run-token-1',
            'credential.scopes': ['tickets:write', 'mail:send'],
            'credential.expires_at': '2026-11-20T10:30:00.000Z',
            'credential.issuer': 'vault',
            'actor.type': 'system',
          },
        },
        {
          name: 'policy.changed',
          atMs: t0 + 2,
          attributes: {
            'decision.policy': 'outbound-mail',
            'decision.policy_version': '4',
            'policy.note': 'mail to customers needs a human',
            'actor.type': 'human',
            'actor.id': 'ops:bob',
          },
        },
      ],
      status: { code: 1 },
    },
    {
      traceId: TRACE,
      spanId: 'a000000000000002',
      parentSpanId: 'a000000000000001',
      name: 'chat scripted-1',
      kind: 3,
      startMs: t0 + 10,
      endMs: t0 + 60,
      attributes: {
        ...run,
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'scripted-1',
        'gen_ai.provider.name': 'scripted',
        'gen_ai.usage.input_tokens': 120,
        'gen_ai.usage.output_tokens': 42,
        'prompt.version': '7',
        'llm.requested_tools': ['search_kb', 'db_update'],
        'prompt.hash': hash('c'),
      },
    },
    {
      traceId: TRACE,
      spanId: 'a000000000000003',
      parentSpanId: 'a000000000000001',
      name: 'execute_tool search_kb',
      startMs: t0 + 100,
      endMs: t0 + 140,
      attributes: {
        ...run,
        'gen_ai.operation.name': 'execute_tool',
        'tool.name': 'search_kb',
        'input.hash': hash('2'),
        'output.hash': hash('3'),
        'decision.outcome': 'allow',
        'decision.policy': 'default',
        'gen_ai.tool.call.id': 'call-1',
      },
    },
    {
      traceId: TRACE,
      spanId: 'a000000000000004',
      parentSpanId: 'a000000000000001',
      name: 'execute_tool db_update',
      startMs: t0 + 200,
      endMs: t0 + 260,
      attributes: {
        ...run,
        'tool.name': 'db_update',
        'input.hash': hash('4'),
        'output.hash': hash('5'),
        'credential.ref': 'cred:db-writer',
        'decision.outcome': 'allow',
        'decision.policy': 'writes',
        'decision.policy_version': '3',
        'decision.reason': 'ticket owner',
        'side_effect.target_system': 'sqlite:helpdesk',
        'side_effect.object_id': 'ticket/991',
        'side_effect.operation': 'update',
        'side_effect.result_hash': hash('6'),
        'side_effect.status': 'applied',
      },
      events: [
        {
          name: 'validation.passed',
          atMs: t0 + 201,
          attributes: { 'actor.type': 'system', 'actor.id': 'schema-check' },
        },
        {
          // The same receipt as on the span: explain must list it once.
          name: 'side_effect.applied',
          atMs: t0 + 259,
          attributes: {
            'side_effect.target_system': 'sqlite:helpdesk',
            'side_effect.object_id': 'ticket/991',
            'side_effect.operation': 'update',
            'side_effect.result_hash': hash('6'),
            'side_effect.status': 'applied',
          },
        },
      ],
    },
    {
      // First attempt: the policy asks for a human; the call is refused before it runs.
      traceId: TRACE,
      spanId: 'a000000000000005',
      parentSpanId: 'a000000000000001',
      name: 'execute_tool send_email',
      startMs: t0 + 300,
      endMs: t0 + 305,
      attributes: {
        ...run,
        'gen_ai.operation.name': 'execute_tool',
        'tool.name': 'send_email',
        'input.hash': hash('a'),
        'decision.outcome': 'approval_required',
        'decision.policy': 'outbound-mail',
        'decision.action_key': 'ak-mail',
        'approval.id': 'appr-1',
        'error.type': 'ApprovalRequiredError',
      },
      status: { code: 2, message: 'approval required' },
      events: [
        {
          name: 'policy.decision',
          atMs: t0 + 301,
          attributes: {
            'decision.outcome': 'approval_required',
            'decision.policy': 'outbound-mail',
            'decision.action_key': 'ak-mail',
            'decision.stage': 'pre',
            'actor.type': 'system',
            'actor.id': 'outbound-mail',
          },
        },
        {
          name: 'approval.requested',
          atMs: t0 + 302,
          attributes: {
            'approval.id': 'appr-1',
            'decision.action_key': 'ak-mail',
            'actor.type': 'system',
          },
        },
      ],
    },
    {
      // recordApproval: its own span with the full receipt, and the approval.granted event.
      traceId: TRACE,
      spanId: 'a000000000000008',
      parentSpanId: 'a000000000000001',
      name: 'approval send_email',
      startMs: t0 + 440,
      endMs: t0 + 441,
      attributes: {
        ...run,
        'tool.name': 'send_email',
        'approval.id': 'appr-1',
        'approval.approver': 'human:alice',
        'approval.decision': 'approved',
        'approval.time': new Date(t0 + 440).toISOString(),
        'approval.shown_hash': hash('9'),
        'approval.input_hash': hash('7'),
        'approval.proposed_hash': hash('a'),
        'approval.edits': ['subject'],
        'approval.note': '<b>ok</b> & "fine"',
        'actor.type': 'human',
        'actor.id': 'human:alice',
      },
      events: [
        {
          name: 'approval.granted',
          atMs: t0 + 440,
          attributes: {
            'approval.id': 'appr-1',
            'approval.decision': 'approved',
            'approval.edits': ['subject'],
            'approval.input_hash': hash('7'),
          },
        },
      ],
    },
    {
      // The call again, with the approval: allowed, and the email goes out.
      traceId: TRACE,
      spanId: 'a000000000000009',
      parentSpanId: 'a000000000000001',
      name: 'execute_tool send_email',
      startMs: t0 + 460,
      endMs: t0 + 500,
      attributes: {
        ...run,
        'gen_ai.operation.name': 'execute_tool',
        'tool.name': 'send_email',
        'input.hash': hash('7'),
        'output.hash': hash('8'),
        'decision.outcome': 'allow',
        'decision.policy': 'outbound-mail',
        'decision.action_key': 'ak-mail',
        'authorization.method': 'human_approval',
        'approval.id': 'appr-1',
        'approval.approver': 'human:alice',
      },
      events: [
        {
          name: 'policy.decision',
          atMs: t0 + 461,
          attributes: {
            'decision.outcome': 'allow',
            'decision.policy': 'outbound-mail',
            'decision.action_key': 'ak-mail',
            'decision.stage': 'pre',
            'actor.type': 'human',
            'actor.id': 'human:alice',
          },
        },
      ],
    },
    {
      traceId: TRACE,
      spanId: 'a000000000000006',
      parentSpanId: 'a000000000000001',
      name: 'execute_tool delete_account',
      startMs: t0 + 520,
      endMs: t0 + 521,
      attributes: {
        ...run,
        'tool.name': 'delete_account',
        'input.hash': hash('b'),
        'decision.outcome': 'stop',
        'decision.reason': 'destructive <script>alert(1)</script>',
        'error.type': 'PolicyStop',
      },
      status: { code: 2, message: 'stopped by policy' },
    },
    {
      traceId: TRACE,
      spanId: 'b000000000000001',
      parentSpanId: 'a000000000000001',
      name: 'POST /tasks',
      kind: 2,
      startMs: t0 + 600,
      endMs: t0 + 800,
      service: 'sub-agent',
      pid: 5151,
      attributes: { ...sub },
    },
    {
      traceId: TRACE,
      spanId: 'b000000000000002',
      parentSpanId: 'b000000000000001',
      name: 'execute_tool fetch_doc',
      startMs: t0 + 620,
      endMs: t0 + 700,
      service: 'sub-agent',
      pid: 5151,
      attributes: {
        ...sub,
        'tool.name': 'fetch_doc',
        'input.hash': hash('d'),
        'output.hash': hash('e'),
      },
    },
  ];
  const neverEnded: SpanSpec = {
    traceId: TRACE,
    spanId: 'a000000000000007',
    parentSpanId: 'a000000000000001',
    name: 'execute_tool refund',
    startMs: t0 + 850,
    attributes: { ...run, 'tool.name': 'refund', 'input.hash': hash('f') },
  };
  return { ended, neverEnded, t0 };
}
