import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRunContext, PolicyStopError, runWorkflow } from '@agent-audit/instrumentation';
import { type AgentAuditHandle, registerAgentAudit } from '@agent-audit/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { auditMcpClient, auditMcpServer, MAX_BAGGAGE_LENGTH } from '../src/index.js';
import { MANDATORY, only, type TrailSpan, trail } from './helpers.js';

// The real MCP SDK client and server in one process over InMemoryTransport, both audited into
// one store: the round trip, hostile `_meta` from an unaudited client, refusals in both idioms.

type ToolResult = {
  isError?: boolean;
  content: { type: string; text: string }[];
  _meta?: Record<string, { code?: string } | undefined>;
};
const VALID_TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('@agent-audit/mcp in one process (InMemoryTransport)', () => {
  let work: string;
  let env: NodeJS.ProcessEnv;
  let audit: AgentAuditHandle;
  let store: string;
  const ran: Record<string, number> = {};
  const runs: Record<string, string> = {};
  const results: Record<string, ToolResult> = {};
  let thrown: unknown;
  const spans: Record<string, TrailSpan[]> = {};

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'aa-mcp-mem-'));
    store = join(work, 'store');
    env = { ...process.env, AGENT_AUDIT_TRUST_DIR: join(work, 'trust') };
    audit = registerAgentAudit({
      serviceName: 'mcp-in-process',
      storeDir: store,
      trustDir: join(work, 'trust'),
      forward: false,
      installExitHandlers: false,
    });

    const server = new McpServer({ name: 'crm', version: '0.1.0' });
    auditMcpServer(server, {
      credentialRef: 'cred:crm:reader',
      policy: (action) =>
        action.toolName === 'wipe'
          ? { outcome: 'stop', reason: 'never over MCP' }
          : { outcome: 'allow' },
    });
    // Registered after auditMcpServer: audited all the same.
    server.registerTool('whoami', { inputSchema: { n: z.number().optional() } }, async () => {
      ran.whoami = (ran.whoami ?? 0) + 1;
      return { content: [{ type: 'text', text: getRunContext()?.runId ?? 'none' }] };
    });
    server.registerTool('wipe', { inputSchema: {} }, async () => {
      ran.wipe = (ran.wipe ?? 0) + 1;
      return { content: [{ type: 'text', text: 'wiped' }] };
    });
    server.registerTool('transfer', { inputSchema: {} }, async () => {
      ran.transfer = (ran.transfer ?? 0) + 1;
      return { content: [{ type: 'text', text: 'sent' }] };
    });

    const connect = async (client: Client) => {
      const [a, b] = InMemoryTransport.createLinkedPair();
      await Promise.all([
        server.server.transport ? Promise.resolve() : server.connect(b),
        client.connect(a),
      ]);
    };

    const client = auditMcpClient(new Client({ name: 'agent', version: '1' }), {
      refusal: 'throw',
      policy: (action) =>
        action.toolName === 'transfer'
          ? { outcome: 'stop', reason: 'over the limit' }
          : { outcome: 'allow' },
    });
    // A second call changes nothing (no double spans).
    auditMcpClient(client);
    await connect(client);
    const whoami = async (c: Client, meta?: Record<string, unknown>) =>
      (await c.callTool({
        name: 'whoami',
        arguments: {},
        ...(meta ? { _meta: meta } : {}),
      })) as ToolResult;

    runs.roundTrip = await runWorkflow(
      { agentId: 'crm-agent', triggerPrincipal: 'user:1', credentialRef: 'cred:crm-agent' },
      async (run) => {
        results.roundTrip = await whoami(client);
        try {
          await client.callTool({ name: 'transfer', arguments: {} });
        } catch (err) {
          thrown = err;
        }
        results.serverStop = (await client.callTool({ name: 'wipe', arguments: {} })) as ToolResult;
        return run.runId;
      },
    );
    await client.close();

    // An unaudited client that writes whatever it likes into _meta.
    const raw = new Client({ name: 'raw', version: '1' });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.close();
    await Promise.all([server.connect(b), raw.connect(a)]);
    const hostile: Record<string, Record<string, unknown>> = {
      badTraceparent: {
        traceparent: 'not-a-traceparent',
        baggage: 'workflow.run_id=run-hostile-1,trigger.principal=user%3Aadmin',
      },
      zeroTrace: { traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` },
      numberTraceparent: { traceparent: 42 },
      oversizedBaggage: {
        traceparent: VALID_TRACEPARENT,
        baggage: `workflow.run_id=run-hostile-2,pad=${'x'.repeat(MAX_BAGGAGE_LENGTH)}`,
      },
      oversizedTracestate: { traceparent: VALID_TRACEPARENT, tracestate: `a=${'b'.repeat(600)}` },
      badRunId: { baggage: 'workflow.run_id=%20spaces%20are%20not%20ids' },
      controlPrincipal: { baggage: 'workflow.run_id=run-hostile-3,trigger.principal=user%0Aroot' },
      arrayTraceparent: { traceparent: ['00', 'x'] },
      plain: {
        traceparent: VALID_TRACEPARENT,
        baggage: 'workflow.run_id=run-plain,trigger.principal=user%3A7,other=1',
      },
    };
    for (const [name, meta] of Object.entries(hostile)) {
      results[name] = await whoami(raw, meta);
      runs[name] = results[name].content[0]?.text ?? '';
    }
    await raw.close();
    await server.close();
    await audit.shutdown();
    for (const [name, runId] of Object.entries(runs))
      spans[name] = await trail(runId, [store], env);
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('round trip: the server span continues the client call, in the same run, once each', () => {
    const s = spans.roundTrip!;
    expect(new Set(s.map((x) => x.trace_id)).size).toBe(1);
    expect(results.roundTrip?.content[0]?.text).toBe(runs.roundTrip);
    const calls = s.filter((x) => x.tool === 'whoami');
    expect(calls).toHaveLength(2);
    const client = calls.find((x) => x.attributes['agent.id'] === 'crm-agent')!;
    const server = calls.find((x) => x.attributes['agent.id'] === 'mcp-server:crm')!;
    const serverRun = s.find((x) => x.span_id === server.parent_span_id)!;
    expect(serverRun.parent_span_id).toBe(client.span_id);
    for (const span of [client, server]) {
      for (const name of MANDATORY) expect(span.attributes[name], name).toBeTruthy();
      expect(span.attributes['mcp.method.name']).toBe('tools/call');
    }
    expect(client.attributes['network.transport']).toBeUndefined();
    expect(server.attributes['run_context.claimed_principal']).toBe('user:1');
  });

  it("refusal: 'throw' rethrows the PolicyStopError and the request is never sent", () => {
    expect(thrown).toBeInstanceOf(PolicyStopError);
    expect(ran.transfer ?? 0).toBe(0);
    const refused = only(spans.roundTrip!, { tool: 'transfer' });
    expect(refused.attributes['decision.outcome']).toBe('stop');
  });

  it("the server's own policy refuses with an MCP tool error result; the handler never runs", () => {
    expect(results.serverStop?.isError).toBe(true);
    expect(results.serverStop?._meta?.['dev.agent-audit/refusal']?.code).toBe('policy_stop');
    expect(ran.wipe ?? 0).toBe(0);
    const wipes = spans.roundTrip!.filter((x) => x.tool === 'wipe');
    const serverWipe = wipes.find((x) => x.attributes['agent.id'] === 'mcp-server:crm')!;
    expect(serverWipe.attributes['decision.outcome']).toBe('stop');
    // The client saw a tool error result: its span says so.
    const clientWipe = wipes.find((x) => x.attributes['agent.id'] === 'crm-agent')!;
    expect(clientWipe.attributes['error.type']).toBe('tool_error');
  });

  const serverCall = (name: string) => only(spans[name]!, { tool: 'whoami' });

  it('malformed or oversized _meta is recorded, never a crash, never adopted', () => {
    const expectations: Record<string, [string, RegExp]> = {
      badTraceparent: ['malformed_trace_context', /^traceparent: not a W3C traceparent$/],
      zeroTrace: ['malformed_trace_context', /all-zero/],
      numberTraceparent: ['malformed_trace_context', /^traceparent: not a string \(number\)$/],
      oversizedBaggage: ['oversized_trace_context', /^baggage: \d+ characters, more than 8192$/],
      oversizedTracestate: ['oversized_trace_context', /^tracestate: /],
      badRunId: ['malformed_trace_context', /workflow\.run_id is not a valid run id/],
      controlPrincipal: ['malformed_trace_context', /trigger\.principal is not a valid principal/],
      arrayTraceparent: ['malformed_trace_context', /^traceparent: not a string \(array\)$/],
    };
    for (const [name, [violation, error]] of Object.entries(expectations)) {
      const result = results[name]!;
      expect(result.isError, name).toBeUndefined();
      const span = serverCall(name);
      expect(span.attributes['audit.violation'], name).toContain(violation);
      const errors = span.attributes['trace_context.error'] as string[];
      expect(
        errors.some((e) => error.test(e)),
        `${name}: ${errors}`,
      ).toBe(true);
      expect(span.attributes['trigger.principal'], name).toBeUndefined();
    }
    // A malformed traceparent does not become the parent; a valid run id alone still joins.
    expect(runs.badTraceparent).toBe('run-hostile-1');
    expect(serverCall('badTraceparent').attributes['run_context.claimed_principal']).toBe(
      'user:admin',
    );
    // Oversized baggage is dropped whole: no run id taken from it.
    expect(runs.oversizedBaggage).not.toBe('run-hostile-2');
    expect(serverCall('oversizedBaggage').trace_id).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(runs.controlPrincipal).toBe('run-hostile-3');
    expect(
      serverCall('controlPrincipal').attributes['run_context.claimed_principal'],
    ).toBeUndefined();
  });

  it('well-formed _meta from an unaudited client: trace and run continued, principal only claimed, other baggage ignored', () => {
    const span = serverCall('plain');
    expect(runs.plain).toBe('run-plain');
    expect(span.trace_id).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(span.attributes['audit.violation']).toBeUndefined();
    expect(span.attributes['trigger.principal']).toBeUndefined();
    expect(span.attributes['run_context.claimed_principal']).toBe('user:7');
    expect(JSON.stringify(spans.plain)).not.toContain('other');
  });

  it('bad options are refused with a Configuration error', () => {
    expect(() => auditMcpClient({} as Client)).toThrow(
      /^Configuration: client is invalid, expected an MCP SDK Client/,
    );
    expect(() =>
      auditMcpClient(new Client({ name: 'x', version: '1' }), { refusal: 'maybe' as 'throw' }),
    ).toThrow(/^Configuration: refusal is invalid/);
    expect(() => auditMcpServer({} as McpServer)).toThrow(/^Configuration: server is invalid/);
  });
});
