import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JaegerInstance, REPO_ROOT, startJaeger } from '../../../test/support/jaeger.js';

// issue 12: `pnpm demo:openai-agents` runs under the pinned Node 22 (openai@7 needs it); its
// run is in the store and in a real Jaeger with every tool call, model call, handoff and
// approval, and `agent-audit explain` (Node 20 here, the CLI's better-sqlite3) answers for it.

const run = promisify(execFile);
const NODE22 = join(REPO_ROOT, 'tools/node/bin/node');
const DEMO = join(REPO_ROOT, 'examples/openai-agents/dist/main.js');
const CLI = join(REPO_ROOT, 'packages/cli/dist/bin.js');
const SERVICE = 'openai-agents-support-desk';
const MANDATORY = ['agent.id', 'workflow.run_id', 'credential.ref', 'input.hash'];

interface TrailSpan {
  span_id: string;
  name: string;
  operation: string | null;
  tool: string | null;
  tool_call_id: string | null;
  decision: string | null;
  attributes: Record<string, unknown>;
}

describe('pnpm demo:openai-agents against a real Jaeger', () => {
  let jaeger: JaegerInstance;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let out = '';
  let runId = '';
  let store = '';

  const cli = async (args: string[]) => {
    const { stdout } = await run(process.execPath, [CLI, ...args], { env });
    return stdout;
  };

  beforeAll(async () => {
    // The pinned Node 22 (scripts/setup.sh installs it; a no-op when it is there).
    execFileSync(process.execPath, [join(REPO_ROOT, 'tools/node/install.mjs'), '--quiet'], {
      stdio: 'ignore',
    });
    jaeger = await startJaeger();
    work = mkdtempSync(join(tmpdir(), 'agent-audit-oa-demo-'));
    store = join(work, '.agent-audit-openai-agents');
    env = {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpUrl,
      AGENT_AUDIT_STORE_DIR: store,
      AGENT_AUDIT_TRUST_DIR: join(work, '.agent-audit-trust'),
      JAEGER_UI_URL: jaeger.queryUrl,
    };
    const { stdout } = await run(NODE22, [DEMO], { cwd: work, env });
    out = stdout;
    runId = /^workflow\.run_id=(\S+)$/m.exec(stdout)?.[1] ?? '';
  });

  afterAll(async () => {
    await jaeger?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('prints the run id on its own line; the refund ran once, the stopped closure never', () => {
    expect(runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(out).toContain(
      'tool bodies run: {"lookup_order":2,"search_policies":1,"issue_refund":1}',
    );
    expect(out).toContain(`Jaeger: ${jaeger.queryUrl}/search?`);
  });

  it('has every tool call, model call, handoff and approval in the store and in Jaeger', async () => {
    const trail = JSON.parse(await cli(['trail', runId, '--json', '--store', store])) as {
      spans: TrailSpan[];
    };
    const spans = trail.spans;
    const tools = spans.filter((s) => s.operation === 'execute_tool');
    // The two lookups of one model message run concurrently: compared as a set.
    expect(tools.map((s) => `${s.tool}:${s.tool_call_id}:${s.decision}`).sort()).toEqual(
      [
        'lookup_order:call_order_1:allow',
        'lookup_order:call_order_2:allow',
        'ask_policy_researcher:call_research_1:allow',
        'search_policies:call_kb_1:allow',
        'issue_refund:call_refund_1:approval_required',
        'issue_refund:call_refund_1:allow',
        'close_customer_account:call_close_1:stop',
      ].sort(),
    );
    for (const s of tools) {
      for (const name of MANDATORY) expect(s.attributes[name], `${s.name} ${name}`).toBeTruthy();
    }
    expect(spans.filter((s) => s.operation === 'chat')).toHaveLength(8);
    const handoff = spans.find((s) => s.name === 'handoff Triage -> Billing');
    expect(handoff?.attributes['handoff.reason']).toBe('late delivery, customer asks for a refund');
    expect(spans.filter((s) => s.name === 'approval issue_refund')).toHaveLength(1);

    const inJaeger = await jaeger.waitForSpans(
      { service: SERVICE, tags: { 'workflow.run_id': runId } },
      (found) => found.length >= spans.length,
      { diagnostics: () => jaeger.logTail() },
    );
    expect(new Set(inJaeger.map((s) => s.spanId))).toEqual(new Set(spans.map((s) => s.span_id)));
  });

  it('agent-audit explain answers for the run: checks, the approval, the stop', async () => {
    const x = JSON.parse(await cli(['explain', runId, '--json', '--store', store]));
    expect(x.trigger.principal).toBe('user:456');
    const outcomes = x.checks.map(
      (c: { tool: string; outcome: string }) => `${c.tool}:${c.outcome}`,
    );
    expect(outcomes).toContain('close_customer_account:stop');
    expect(outcomes).toContain('issue_refund:approval_required');
    expect(x.checks).toContainEqual(
      expect.objectContaining({ policy: 'guardrail:no_card_numbers', outcome: 'passed' }),
    );
    expect(x.approvals).toContainEqual(
      expect.objectContaining({ approver: 'user:jane.doe', decision: 'approved' }),
    );
    // The handoff, once (its span and its agent.handoff event are one handoff), with its reason.
    expect(x.context.handoffs).toEqual([
      expect.objectContaining({
        from_agent: 'Triage',
        to_agent: 'Billing',
        reason: 'late delivery, customer asks for a refund',
      }),
    ]);
    const text = await cli(['explain', runId, '--store', store]);
    expect(text).toContain(
      'handoffs: Triage → Billing (late delivery, customer asks for a refund)',
    );
    const verify = await run(process.execPath, [CLI, 'verify', '--store', store], { env });
    expect(verify.stdout).toContain('checkpoint');
  });
});
