import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { runWorkflow } from '@agent-audit/instrumentation';
import { type AgentAuditHandle, registerAgentAudit } from '@agent-audit/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { context, propagation } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditMcpClient } from '../src/index.js';
import { cli, MANDATORY, only, SERVER, type TrailSpan, trail } from './helpers.js';

// issue 11 §2: an audited MCP client in this process, the real MCP SDK server in another
// process (stdio, then Streamable HTTP), each writing its own store. One trace, one run id,
// both stores verify, and the refusals, failures and timeouts are all in the trail.

const TOKEN = 'client-42.tok_7f3a9c1e5b2d4f6a8c0e';
const STOP_DELETE = () => ({
  outcome: 'stop' as const,
  policyId: 'no-account-deletion',
  reason: 'accounts are closed by a human',
});

type ToolResult = {
  isError?: boolean;
  content: { type: string; text: string }[];
  _meta?: Record<string, { code?: string } | undefined>;
};

describe('auditMcpClient and auditMcpServer across processes', () => {
  let work: string;
  let env: NodeJS.ProcessEnv;
  let audit: AgentAuditHandle;
  const stores = { client: '', stdio: '', http: '' };
  const results: Record<string, ToolResult> = {};
  let timeoutError: unknown;
  let stats: Record<string, number> = {};
  let sentMeta: Record<string, string> = {};
  let stdioRun = '';
  let httpRun = '';
  let httpSession: string | undefined;
  let stdioSpans: TrailSpan[] = [];
  let httpSpans: TrailSpan[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'aa-mcp-'));
    stores.client = join(work, 'client-store');
    stores.stdio = join(work, 'stdio-server-store');
    stores.http = join(work, 'http-server-store');
    env = { ...process.env, AGENT_AUDIT_TRUST_DIR: join(work, 'trust') };
    audit = registerAgentAudit({
      serviceName: 'mcp-test-agent',
      storeDir: stores.client,
      trustDir: join(work, 'trust'),
      forward: false,
      installExitHandlers: false,
    });

    // --- stdio -----------------------------------------------------------------------------
    const client = auditMcpClient(new Client({ name: 'test-agent', version: '1.0.0' }), {
      policy: (action) =>
        action.toolName === 'delete_account' ? STOP_DELETE() : { outcome: 'allow' },
    });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [SERVER, 'stdio'],
        env: { ...env, AGENT_AUDIT_STORE_DIR: stores.stdio } as Record<string, string>,
        stderr: 'inherit',
      }),
    );
    const call = (name: string, args: Record<string, unknown> = {}) =>
      client.callTool({ name, arguments: args }) as Promise<ToolResult>;
    stdioRun = await runWorkflow(
      {
        agentId: 'support-agent',
        triggerPrincipal: 'user:456',
        triggerType: 'human',
        credentialRef: 'cred:support-agent:run',
      },
      async (run) => {
        results.lookup = await call('lookup_order', { orderId: 'o-1' });
        results.fail = await call('fail', { why: 'database down' });
        results.softFail = await call('soft_fail');
        results.deleted = await call('delete_account', { customerId: 'c-9' });
        try {
          await client.callTool({ name: 'hang', arguments: {} }, undefined, { timeout: 400 });
        } catch (err) {
          timeoutError = err;
        }
        // A baggage entry of the agent's own must not leave the process.
        const bag = (
          propagation.getBaggage(context.active()) ?? propagation.createBaggage()
        ).setEntry('session.secret', { value: 'do-not-send' });
        const echoed = await context.with(propagation.setBaggage(context.active(), bag), () =>
          call('echo_meta'),
        );
        sentMeta = JSON.parse(echoed.content[0]!.text);
        await client.readResource({ uri: 'doc://policies/refunds' });
        await client.getPrompt({ name: 'summarize', arguments: { topic: 'refunds' } });
        stats = JSON.parse((await call('stats')).content[0]!.text);
        return run.runId;
      },
    );
    await client.close();

    // --- Streamable HTTP -------------------------------------------------------------------
    const server = spawn(process.execPath, [SERVER, 'http'], {
      env: { ...env, AGENT_AUDIT_STORE_DIR: stores.http },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let port = 0;
    for await (const line of createInterface({ input: server.stdout! })) {
      const m = /^listening (\d+)$/.exec(line);
      if (m) {
        port = Number(m[1]);
        break;
      }
    }
    const httpClient = auditMcpClient(new Client({ name: 'test-agent', version: '1.0.0' }));
    const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
    });
    await httpClient.connect(transport);
    httpSession = transport.sessionId;
    httpRun = await runWorkflow(
      { agentId: 'support-agent', triggerPrincipal: 'user:789', credentialRef: 'cred:run-2' },
      async (run) => {
        results.http = (await httpClient.callTool({
          name: 'lookup_order',
          arguments: { orderId: 'o-2' },
        })) as ToolResult;
        return run.runId;
      },
    );
    await httpClient.close();
    server.kill('SIGTERM');
    await once(server, 'exit');
    await audit.shutdown();

    stdioSpans = await trail(stdioRun, [stores.client, stores.stdio], env);
    httpSpans = await trail(httpRun, [stores.client, stores.http], env);
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('is one trace and one run across the agent and the stdio server, server spans children of the client call', () => {
    expect(new Set(stdioSpans.map((s) => s.trace_id)).size).toBe(1);
    for (const s of stdioSpans) expect(s.attributes['workflow.run_id']).toBe(stdioRun);
    const clientCall = only(stdioSpans, { service: 'mcp-test-agent', tool: 'lookup_order' });
    const serverRun = stdioSpans.find(
      (s) => s.service === 'mcp-test-server-stdio' && s.parent_span_id === clientCall.span_id,
    );
    expect(serverRun?.operation).toBe('invoke_agent');
    const serverCall = only(stdioSpans, {
      service: 'mcp-test-server-stdio',
      tool: 'lookup_order',
    });
    expect(serverCall.parent_span_id).toBe(serverRun!.span_id);
    expect(results.lookup?.content[0]?.text).toBe('order o-1: shipped');
  });

  it('records the MCP conventions and the four mandatory attributes on both sides', () => {
    const clientCall = only(stdioSpans, { service: 'mcp-test-agent', tool: 'lookup_order' });
    const serverCall = only(stdioSpans, { service: 'mcp-test-server-stdio', tool: 'lookup_order' });
    for (const span of [clientCall, serverCall]) {
      for (const name of MANDATORY) expect(span.attributes[name], name).toBeTruthy();
      expect(span.attributes['mcp.method.name']).toBe('tools/call');
      expect(span.attributes['gen_ai.tool.name']).toBe('lookup_order');
      expect(span.attributes['network.transport']).toBe('pipe');
      expect(span.attributes['jsonrpc.request.id']).toMatch(/^\d+$/);
      expect(span.attributes['audit.violation']).toBeUndefined();
    }
    expect(clientCall.attributes['mcp.protocol.version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(clientCall.attributes['jsonrpc.request.id']).toBe(
      serverCall.attributes['jsonrpc.request.id'],
    );
    expect(clientCall.attributes['trigger.principal']).toBe('user:456');
    // The server never adopts the caller's principal: it records it as a claim.
    expect(serverCall.attributes['trigger.principal']).toBeUndefined();
    expect(serverCall.attributes['run_context.claimed_principal']).toBe('user:456');
    expect(serverCall.attributes['credential.ref']).toBe('cred:helpdesk:local-operator');
    // No policy in the server process: the call is recorded allowed by no policy.
    expect(serverCall.attributes['decision.outcome']).toBe('allow');
    expect(serverCall.attributes['decision.policy']).toBe('none');
  });

  it('sends only the traceparent and the allow-listed baggage in params._meta', () => {
    expect(sentMeta.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    const entries = decodeURIComponent(sentMeta.baggage ?? '')
      .split(',')
      .map((e) => e.split('=')[0]!.trim())
      .sort();
    expect(entries).toEqual(['trigger.principal', 'workflow.run_id']);
    expect(JSON.stringify(sentMeta)).not.toContain('do-not-send');
  });

  it('records a handler that throws and an isError result as tool errors on both sides', () => {
    expect(results.fail?.isError).toBe(true);
    expect(results.softFail?.isError).toBe(true);
    const clientFail = only(stdioSpans, { service: 'mcp-test-agent', tool: 'fail' });
    const serverFail = only(stdioSpans, { service: 'mcp-test-server-stdio', tool: 'fail' });
    expect(clientFail.attributes['error.type']).toBe('tool_error');
    expect(clientFail.status).toBe('error');
    expect(serverFail.status).toBe('error');
    expect(serverFail.status_message).toContain('database down');
    for (const service of ['mcp-test-agent', 'mcp-test-server-stdio']) {
      const soft = only(stdioSpans, { service, tool: 'soft_fail' });
      expect(soft.attributes['error.type']).toBe('tool_error');
      expect(soft.status).toBe('error');
    }
  });

  it('a policy stop returns an MCP tool error and never reaches the server', () => {
    expect(results.deleted?.isError).toBe(true);
    expect(results.deleted?._meta?.['dev.agent-audit/refusal']?.code).toBe('policy_stop');
    expect(results.deleted?.content[0]?.text).toContain('accounts are closed by a human');
    const refused = only(stdioSpans, { service: 'mcp-test-agent', tool: 'delete_account' });
    expect(refused.attributes['decision.outcome']).toBe('stop');
    expect(refused.attributes['decision.policy']).toBe('no-account-deletion');
    // The refused call's pre-exec record still says what it was.
    expect(refused.attributes['mcp.method.name']).toBe('tools/call');
    expect(refused.attributes['network.transport']).toBe('pipe');
    expect(refused.status).toBe('error');
    expect(
      stdioSpans.filter(
        (s) => s.service === 'mcp-test-server-stdio' && s.tool === 'delete_account',
      ),
    ).toEqual([]);
    expect(stats.delete_account ?? 0).toBe(0);
    expect(stats.lookup_order).toBe(1);
  });

  it('a server that never answers: the client span ends with a timeout, nothing lost', () => {
    expect((timeoutError as { code?: number } | undefined)?.code).toBe(-32001);
    const hung = only(stdioSpans, { service: 'mcp-test-agent', tool: 'hang' });
    expect(hung.end).not.toBeNull();
    expect(hung.status).toBe('error');
    expect(hung.attributes['rpc.response.status_code']).toBe('-32001');
    expect(hung.status_message).toMatch(/timed out/i);
    expect(stats.hang).toBe(1);
    // The server's handler never returned: its pre-exec record is in the server's store, a
    // span that started and never ended (the server was shut down under it).
    const serverHang = stdioSpans.filter((s) => s.tool === 'hang' && s.span_id !== hung.span_id);
    expect(serverHang).toHaveLength(1);
    expect(serverHang[0]!.incomplete).toBe(true);
    expect(serverHang[0]!.end).toBeNull();
    expect(serverHang[0]!.store).toBe(stores.stdio);
    // Every later call of the run is still in the trail.
    expect(stdioSpans.some((s) => s.tool === 'stats')).toBe(true);
  });

  it('records resources/read and prompts/get with the URI, the prompt name and hashes', () => {
    const read = only(stdioSpans, { service: 'mcp-test-agent', name: 'resources/read' });
    expect(read.kind).toBe('client');
    expect(read.attributes['mcp.resource.uri']).toBe('doc://policies/refunds');
    expect(read.attributes['input.hash']).toMatch(/^sha256:/);
    expect(read.attributes['output.hash']).toMatch(/^sha256:/);
    const prompt = only(stdioSpans, { service: 'mcp-test-agent', name: 'prompts/get summarize' });
    expect(prompt.attributes['gen_ai.prompt.name']).toBe('summarize');
    expect(prompt.attributes['output.hash']).toMatch(/^sha256:/);
    expect(JSON.stringify(stdioSpans)).not.toContain('Refunds within 30 days');
  });

  it('over Streamable HTTP: one trace, the session id, the authenticated client, never the token', () => {
    expect(new Set(httpSpans.map((s) => s.trace_id)).size).toBe(1);
    const clientCall = only(httpSpans, { service: 'mcp-test-agent', tool: 'lookup_order' });
    const serverCall = only(httpSpans, { service: 'mcp-test-server-http', tool: 'lookup_order' });
    expect(results.http?.content[0]?.text).toBe('order o-2: shipped');
    expect(httpSession).toBeTruthy();
    for (const span of [clientCall, serverCall]) {
      expect(span.attributes['network.transport']).toBe('tcp');
      expect(span.attributes['mcp.session.id']).toBe(httpSession);
      expect(span.attributes['mcp.protocol.version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      for (const name of MANDATORY) {
        expect(
          span.attributes[name],
          `${span.service} ${name} ${JSON.stringify(span.attributes)}`,
        ).toBeTruthy();
      }
    }
    expect(serverCall.attributes['auth.client_id']).toBe('client-42');
    expect(serverCall.attributes['credential.scopes']).toEqual(['tools:call']);
    expect(serverCall.attributes['credential.ref']).toMatch(/^mcp-token:test-key:[0-9a-f]{32}$/);
    expect(serverCall.attributes['run_context.claimed_principal']).toBe('user:789');
    const files = readdirSync(stores.http, { recursive: true, withFileTypes: true });
    expect(files.filter((f) => f.isFile()).length).toBeGreaterThan(0);
    for (const f of files.filter((x) => x.isFile())) {
      const file = join(f.parentPath, f.name);
      const bytes = readFileSync(file).toString('latin1');
      expect(bytes.includes('tok_7f3a9c1e5b2d4f6a8c0e'), file).toBe(false);
    }
  });

  it('all three stores verify', async () => {
    for (const store of Object.values(stores)) {
      const result = await cli(['verify', '--store', store], env);
      expect(result.code, `${store}: ${result.stdout}${result.stderr}`).toBe(0);
    }
  });
});
