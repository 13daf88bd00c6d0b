import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureRunContextTrust, runWorkflow } from '@agent-audit/instrumentation';
import { type AgentAuditHandle, registerAgentAudit } from '@agent-audit/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { auditMcpClient, auditMcpServer } from '../src/index.js';
import { cli, only, type TrailSpan, trail } from './helpers.js';

// Issue 13 §3 over MCP: with run-context trust configured, the client's signed run context
// travels in `_meta` and the server adopts the caller's principal only when it verifies; a
// forged principal (or a signature over another principal) is recorded as claimed, never as
// `trigger.principal` — the same names as over HTTP, so `explain` shows it apart.

const keys = generateKeyPairSync('ed25519');
const forgedRun = 'run-forged-mcp-1';

function crmServer(): McpServer {
  const server = new McpServer({ name: 'crm', version: '0.1.0' });
  auditMcpServer(server, { credentialRef: 'cred:crm:reader' });
  server.registerTool('lookup', { inputSchema: { id: z.number() } }, async ({ id }) => ({
    content: [{ type: 'text', text: `customer ${id}` }],
  }));
  return server;
}

/**
 * An unaudited client claims another principal and run in the victim's format, with a signature
 * taken from nowhere (garbage).
 */
async function sendForged(server: McpServer): Promise<void> {
  const raw = new Client({ name: 'raw', version: '1' });
  const [c, d] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(d), raw.connect(c)]);
  await raw.callTool({
    name: 'lookup',
    arguments: { id: 8 },
    _meta: {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      baggage: `workflow.run_id=${forgedRun},trigger.principal=user%3Aadmin`,
      'agent-audit-run-context': 'v1.not-a-signature',
    },
  });
  await raw.close();
}

/** The server span of a forged call: claimed, neither its run nor its principal adopted. */
function expectClaimedNotAdopted(spans: TrailSpan[]): void {
  const server = only(spans, { name: 'invoke_agent crm' });
  expect(server.attributes['workflow.run_id']).not.toBe(forgedRun);
  expect(server.attributes['trigger.principal']).toBeUndefined();
  expect(server.attributes['run_context.status']).toBe('claimed');
  expect(server.attributes['run_context.claimed_principal']).toBe('user:admin');
  expect(server.attributes['run_context.claimed_run_id']).toBe(forgedRun);
}

describe('@agent-audit/mcp with a signed run context', () => {
  let work: string;
  let env: NodeJS.ProcessEnv;
  let audit: AgentAuditHandle;
  let store: string;
  let signedRun = '';
  let spans: TrailSpan[] = [];
  let forgedSpans: TrailSpan[] = [];
  let forgedRunId = '';

  /** The server process's audit registration on its store (opened again for a restart). */
  const openAudit = () =>
    registerAgentAudit({
      serviceName: 'mcp-signed',
      storeDir: store,
      trustDir: join(work, 'trust'),
      forward: false,
      installExitHandlers: false,
    });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'aa-mcp-signed-'));
    store = join(work, 'store');
    env = { ...process.env, AGENT_AUDIT_TRUST_DIR: join(work, 'trust') };
    audit = openAudit();
    configureRunContextTrust({
      audience: 'acme-agents',
      signingKey: keys.privateKey,
      trustedKeys: [keys.publicKey.export({ type: 'spki', format: 'pem' }) as string],
    });
    const server = crmServer();

    const client = auditMcpClient(new Client({ name: 'agent', version: '1' }));
    const [a, b] = InMemoryTransport.createLinkedPair();
    await Promise.all([server.connect(b), client.connect(a)]);
    signedRun = await runWorkflow(
      { agentId: 'crm-agent', triggerPrincipal: 'user:jane', credentialRef: 'cred:crm-agent' },
      async (run) => {
        await client.callTool({ name: 'lookup', arguments: { id: 7 } });
        return run.runId;
      },
    );
    await client.close();

    await server.close();
    await sendForged(server);
    await audit.forceFlush();
    spans = await trail(signedRun, [store], env);
    const runs = await cli(['runs', '--json', '--store', store], env);
    const other = (JSON.parse(runs.stdout) as { run_id: string }[]).find(
      (r) => r.run_id !== signedRun,
    );
    if (other === undefined) throw new Error(`no run for the forged call: ${runs.stdout}`);
    forgedRunId = other.run_id;
    forgedSpans = await trail(forgedRunId, [store], env);
  });

  afterAll(async () => {
    configureRunContextTrust(undefined);
    await audit?.shutdown();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('adopts the principal from a signed context the server verified', () => {
    const server = only(spans, { service: 'mcp-signed', name: 'invoke_agent crm' });
    expect(server.attributes['workflow.run_id']).toBe(signedRun);
    expect(server.attributes['trigger.principal']).toBe('user:jane');
    expect(server.attributes['run_context.status']).toBe('verified');
    expect(server.attributes['run_context.claimed_principal']).toBeUndefined();
  });

  /** No span of the forged run id exists, and the forged principal owns no run. */
  async function expectForgedRunAbsent(): Promise<void> {
    expect((await cli(['trail', forgedRun, '--json', '--store', store], env)).code).toBe(4);
    const runs = await cli(['runs', '--json', '--principal', 'user:admin', '--store', store], env);
    expect(JSON.parse(runs.stdout)).toEqual([]);
  }

  it('records a forged context as claimed and adopts neither its run nor its principal', async () => {
    expectClaimedNotAdopted(forgedSpans);
    await expectForgedRunAbsent();
  });

  it('keeps that verdict after the server and its store restart, and gives a replayed forgery the same', async () => {
    // The server process goes away (its store closed with a final checkpoint) and starts again
    // on the same store: a new writer session.
    await audit.shutdown();
    audit = openAudit();
    expectClaimedNotAdopted(await trail(forgedRunId, [store], env));
    await expectForgedRunAbsent();

    // The same forged _meta sent to the restarted server.
    await sendForged(crmServer());
    await audit.forceFlush();
    const runs = await cli(['runs', '--json', '--store', store], env);
    const replayed = (JSON.parse(runs.stdout) as { run_id: string }[]).filter(
      (r) => r.run_id !== signedRun && r.run_id !== forgedRunId,
    );
    expect(replayed).toHaveLength(1);
    expectClaimedNotAdopted(await trail(replayed[0]!.run_id, [store], env));
    await expectForgedRunAbsent();
    // The restart broke nothing a verifier checks (the server closes first: a clean close signs
    // its tail; verifying a store whose writer still runs may report the unsigned tail).
    await audit.shutdown();
    const verified = await cli(['verify', '--store', store], env);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  });
});
