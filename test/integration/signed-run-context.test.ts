/*
 * Issue 13 §3 with the real SDK and store (RELIABILITY row 45): an orchestrator hands a run to
 * a sub-agent with a signed run context; an adversary sends the same run id with a forged
 * principal and no valid signature. The store and `runs --principal` must attribute the run to
 * the real principal only, before and after a writer restart.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  configureRunContextTrust,
  injectRunContext,
  RUN_CONTEXT_HEADER,
  runWorkflow,
  traceToolCall,
  withRemoteRunContext,
} from '@agent-audit/instrumentation';
import { registerAgentAudit } from '@agent-audit/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../packages/cli/test/support/run-cli.js';

const RUN_ID = 'run-signed-ctx-1';
let root: string;
let storeDir: string;

async function session(fn: () => Promise<void>): Promise<void> {
  const audit = registerAgentAudit({
    storeDir,
    trustDir: join(root, 'trust'),
    forward: false,
    installExitHandlers: false,
    serviceName: 'signed-ctx',
  });
  try {
    await fn();
  } finally {
    await audit.shutdown();
  }
}

/** The sub-agent's handler: adopt what the headers carry, run, call a tool. */
async function subAgent(headers: Record<string, string>, tool: string): Promise<void> {
  // Called outside any run, as a fresh process's HTTP handler would be.
  await withRemoteRunContext(headers, () =>
    runWorkflow({ agentId: 'sub-agent', agentName: 'Sub' }, () =>
      traceToolCall({ toolName: tool, input: { n: 1 } }, () => 'done'),
    ),
  );
}

async function runsOf(principal: string): Promise<string[]> {
  const r = await runCli(['--store', storeDir, 'runs', '--principal', principal, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).map((row: { run_id: string }) => row.run_id);
}

describe('signed run context through the SDK and the store (row 45)', () => {
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'aa-signed-ctx-'));
    storeDir = join(root, 'store');
    const keys = generateKeyPairSync('ed25519');
    configureRunContextTrust({
      audience: 'acme-agents',
      signingKey: keys.privateKey,
      trustedKeys: [keys.publicKey],
    });
    await session(async () => {
      const signed = await runWorkflow(
        { agentId: 'orchestrator', runId: RUN_ID, triggerPrincipal: 'user:456' },
        () => injectRunContext({} as Record<string, string>),
      );
      await subAgent(signed, 'legit.lookup');
      // The adversary: the run id of user 456's run, its own principal, no valid signature.
      const forgedBaggage = signed.baggage!.replace('user%3A456', 'user%3Aadmin');
      await subAgent(
        { traceparent: signed.traceparent!, baggage: forgedBaggage },
        'forged.unsigned',
      );
      await subAgent({ ...signed, baggage: forgedBaggage }, 'forged.mismatch');
    });
  }, 120_000);

  afterAll(() => {
    configureRunContextTrust(undefined);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('attributes the run to the signed principal only, before and after a writer restart', async () => {
    for (const phase of ['before', 'after'] as const) {
      if (phase === 'after') {
        await session(async () => {
          await runWorkflow({ agentId: 'other', triggerPrincipal: 'user:789' }, () => undefined);
        });
      }
      expect(await runsOf('user:admin'), phase).toEqual([]);
      expect(await runsOf('user:456'), phase).toEqual([RUN_ID]);
      const trail = await runCli(['--store', storeDir, 'trail', RUN_ID, '--json']);
      const spans = JSON.parse(trail.stdout).spans as Array<Record<string, unknown>>;
      const tools = spans.filter((s) => s.operation === 'execute_tool').map((s) => s.tool);
      expect(tools, phase).toEqual(['legit.lookup']);
      const legit = spans.find((s) => s.tool === 'legit.lookup')!;
      expect((legit.attributes as Record<string, unknown>)['run_context.status']).toBe('verified');
      expect(spans.every((s) => s.principal === null || s.principal === 'user:456')).toBe(true);
    }
  });

  it('keeps the forged calls as claimed, outside the run', async () => {
    const all = await runCli(['--store', storeDir, 'runs', '--actions', '--json']);
    const rows = JSON.parse(all.stdout) as Array<{
      run_id: string;
      principal: string | null;
      claimed_principal?: string;
      actions: Array<{ tool: string }>;
    }>;
    // runs marks a run whose principal is only claimed, apart from the real one.
    expect(rows.find((r) => r.principal === 'user:456')!.claimed_principal).toBeUndefined();
    const table = (await runCli(['--store', storeDir, 'runs', '--wide'])).stdout;
    expect(table).toMatch(/user:admin \(claimed\)/);
    expect(table).toMatch(/user:456(?! \(claimed\))/);
    for (const tool of ['forged.unsigned', 'forged.mismatch']) {
      const row = rows.find((r) => r.actions.some((a) => a.tool === tool))!;
      expect(row.run_id).not.toBe(RUN_ID);
      expect(row.principal).toBeNull();
      expect(row.claimed_principal).toBe('user:admin');
      const trail = JSON.parse(
        (await runCli(['--store', storeDir, 'trail', row.run_id, '--json'])).stdout,
      );
      const span = trail.spans.find((s: { tool: string }) => s.tool === tool);
      expect(span.attributes).toMatchObject({
        'run_context.status': 'claimed',
        'run_context.claimed_run_id': RUN_ID,
        'run_context.claimed_principal': 'user:admin',
        'run_context.claim_reason': tool === 'forged.unsigned' ? 'unsigned' : 'run_mismatch',
      });
      const explain = await runCli(['--store', storeDir, 'explain', row.run_id]);
      expect(explain.stdout).toMatch(
        /claimed: +user:admin for run run-signed-ctx-1 by a remote caller — NOT adopted/,
      );
      expect(explain.stdout).toMatch(/principal: +-$/m);
    }
    expect(RUN_CONTEXT_HEADER).toBe('agent-audit-run-context');
  });
});
