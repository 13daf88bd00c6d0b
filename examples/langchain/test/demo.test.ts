import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JaegerInstance, startJaeger } from '../../../test/support/jaeger.js';

// `pnpm demo:langchain` end to end against the built dist/: the run id on its own line, the
// run in the WORM store with the four mandatory attributes on every tool span, and
// `agent-audit explain` answering for it (tool calls with the model's call ids, the stop, the
// approval with its edit, the side effects), and the same spans in a real Jaeger (local
// binary, loopback only).

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEMO = join(ROOT, 'examples/langchain/dist/main.js');
const CLI = join(ROOT, 'packages/cli/dist/bin.js');

interface Explain {
  actions: {
    tool: string;
    tool_call_id: string;
    decision: string;
    input_hash: string;
    output_hash: string;
  }[];
  approvals: { tool: string; approver: string; decision: string; edits: string[] }[];
  side_effects: { tool: string; target_system: string; operation: string; status: string }[];
  context: { llm_calls: { input_tokens?: number; output_tokens?: number }[] };
}
interface Trail {
  spans: { name: string; attributes: Record<string, unknown> }[];
}

describe('pnpm demo:langchain', () => {
  let work: string;
  let jaeger: JaegerInstance;
  let env: NodeJS.ProcessEnv;
  let stdout = '';
  let runId = '';

  beforeAll(async () => {
    jaeger = await startJaeger();
    work = mkdtempSync(join(tmpdir(), 'agent-audit-lc-demo-'));
    env = {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpUrl,
      JAEGER_UI_URL: jaeger.queryUrl,
    };
    delete env.AGENT_AUDIT_STORE_DIR;
    delete env.AGENT_AUDIT_TRUST_DIR;
    ({ stdout } = await run(process.execPath, [DEMO], { cwd: work, env }));
    runId = /^workflow\.run_id=(\S+)$/m.exec(stdout)?.[1] ?? '';
  }, 120_000);
  afterAll(async () => {
    await jaeger?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const cli = async (args: string[]) =>
    (
      await run(process.execPath, [CLI, ...args, '--store', join(work, '.agent-audit')], {
        cwd: work,
        env,
      })
    ).stdout;

  it('prints the run id on its own line, the trail and the Jaeger URL of the run', () => {
    expect(runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(stdout).toContain('execute_tool');
    expect(stdout).toContain(`Jaeger: ${jaeger.queryUrl}/search?`);
  });

  it('Jaeger holds the same spans as the store, tool and model spans with the run attributes', async () => {
    const trail = JSON.parse(await cli(['trail', runId, '--json'])) as {
      spans: { span_id: string }[];
    };
    const spans = await jaeger.waitForSpans(
      { service: 'langchain-example', tags: { 'workflow.run_id': runId } },
      (s) => s.length >= trail.spans.length,
      { diagnostics: () => jaeger.logTail() },
    );
    expect(spans.map((s) => s.spanId).sort()).toEqual(trail.spans.map((s) => s.span_id).sort());
    const tools = spans.filter((s) => s.operationName.startsWith('execute_tool '));
    expect(tools).toHaveLength(5);
    for (const s of tools) {
      for (const name of ['agent.id', 'workflow.run_id', 'credential.ref', 'input.hash']) {
        expect(s.tags[name], `${s.operationName} lacks ${name}`).toBeTruthy();
      }
      expect(s.tags['decision.outcome']).toBeTruthy();
    }
    expect(spans.filter((s) => s.operationName.startsWith('chat '))).toHaveLength(5);
    expect(spans.filter((s) => s.operationName.startsWith('approval '))).toHaveLength(1);
  });

  it('explain answers: every tool call with its call id and decision, the approval, the side effect', async () => {
    const e = JSON.parse(await cli(['explain', runId, '--json'])) as Explain;
    const calls = e.actions.map((a) => [a.tool, a.tool_call_id, a.decision]);
    expect(calls).toEqual([
      ['search_kb', 'call_kb_1', 'allow'],
      ['lookup_order', 'call_lookup_1', 'allow'],
      ['delete_account', 'call_delete_1', 'stop'],
      // One request, one approval, one executed call: the resumed node goes back to the pending
      // request instead of asking the gate (and recording a request nobody saw) a second time.
      ['refund_order', 'call_refund_1', 'approval_required'],
      ['refund_order', 'call_refund_1', 'allow'],
    ]);
    for (const a of e.actions) expect(a.input_hash).toMatch(/^hmac-sha256:demo-langchain:/);
    expect(e.actions.find((a) => a.tool === 'delete_account')?.output_hash ?? null).toBeNull();
    expect(e.actions.at(-1)?.output_hash).toMatch(/^hmac-sha256:/);
    const approved = e.approvals.find((a) => a.decision === 'approved');
    expect(approved).toMatchObject({
      tool: 'refund_order',
      approver: 'user:supervisor-jane',
      edits: ['amount'],
    });
    expect(e.side_effects).toEqual([
      expect.objectContaining({
        tool: 'delete_account',
        target_system: 'accounts',
        operation: 'delete',
        status: 'blocked',
      }),
      expect.objectContaining({
        tool: 'refund_order',
        target_system: 'payments',
        operation: 'refund',
        status: 'applied',
      }),
    ]);
    expect(e.context.llm_calls).toHaveLength(5);
    expect(e.context.llm_calls.map((c) => c.input_tokens)).toEqual([60, 90, 120, 180, 240]);
  });

  it('every tool and model span carries the run attribution; verify passes', async () => {
    const t = JSON.parse(await cli(['trail', runId, '--json'])) as Trail;
    const tools = t.spans.filter((s) => s.name.startsWith('execute_tool '));
    expect(tools).toHaveLength(5);
    for (const s of tools) {
      for (const name of ['agent.id', 'workflow.run_id', 'credential.ref', 'input.hash']) {
        expect(s.attributes[name], `${s.name} ${name}`).toBeDefined();
      }
      expect(s.attributes['gen_ai.tool.call.arguments']).toBeUndefined();
    }
    const chats = t.spans.filter((s) => s.name.startsWith('chat '));
    expect(chats).toHaveLength(5);
    for (const s of chats) expect(s.attributes['workflow.run_id']).toBe(runId);
    await expect(cli(['verify'])).resolves.toBeDefined();
  });
});
