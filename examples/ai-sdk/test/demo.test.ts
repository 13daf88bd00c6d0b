import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attrsOf, readSegments, spanOf } from '../../../packages/sdk/test/helpers.js';

// issue 11 §4: `pnpm demo:ai-sdk` runs an AI SDK agent with a scripted model, no network, no
// key; every tool call is in the store with the four mandatory attributes and a decision; the
// refused refund never ran and the model was told; the store verifies. Runs the built dist/
// (`pnpm build` first), as the root script does.

const run = promisify(execFile);
const REPO_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const DEMO = join(REPO_ROOT, 'examples/ai-sdk/dist/main.js');
const CLI = join(REPO_ROOT, 'packages/cli/dist/bin.js');
const MANDATORY = ['agent.id', 'workflow.run_id', 'credential.ref', 'input.hash'];

describe('pnpm demo:ai-sdk', () => {
  let work: string;
  let env: NodeJS.ProcessEnv;
  let stdout = '';
  let runId = '';

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'agent-audit-ai-sdk-demo-'));
    env = {
      ...process.env,
      // Nothing listens there: the demo must finish with the run safe in its store.
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
      AGENT_AUDIT_STORE_DIR: join(work, '.agent-audit'),
      AGENT_AUDIT_TRUST_DIR: join(work, '.agent-audit-trust'),
    };
    ({ stdout } = await run(process.execPath, [DEMO], { cwd: work, env }));
    runId = /^workflow\.run_id=(\S+)$/m.exec(stdout)?.[1] ?? '';
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('prints the run id on a line of its own; the refused refund never ran', () => {
    expect(runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(stdout).toContain(
      'tools that ran: lookupOrder order-5521, lookupCustomer cust-88, notifyCustomer cust-88',
    );
  });

  it('stores every tool call with the four attributes and a decision, linked to the model calls', () => {
    const spans = readSegments(join(work, '.agent-audit'))
      .filter((r) => r.type === 'span.end')
      .map((r) => ({
        name: spanOf(r).name,
        attrs: attrsOf(spanOf(r)),
        events: (spanOf(r).events ?? []).map((e) => e.name),
      }))
      .filter((s) => s.attrs['workflow.run_id'] === runId);
    const tools = spans.filter((s) => s.attrs['gen_ai.operation.name'] === 'execute_tool');
    expect(tools.map((s) => s.attrs['tool.name']).sort()).toEqual([
      'issueRefund',
      'lookupCustomer',
      'lookupOrder',
      'notifyCustomer',
    ]);
    for (const t of tools) {
      for (const name of MANDATORY) expect(t.attrs[name], `${t.name} ${name}`).toMatch(/\S/);
      expect(t.attrs['decision.policy']).toBe('refund-limits');
    }
    // The AI SDK's own spans are in the run too, without the raw content they carried.
    const framework = spans.filter((s) => s.name === 'ai.toolCall');
    expect(framework).toHaveLength(4);
    for (const s of spans) {
      for (const raw of [
        'ai.toolCall.args',
        'ai.toolCall.result',
        'ai.prompt.messages',
        'ai.prompt',
      ]) {
        expect(s.attrs[raw], `${s.name} ${raw}`).toBeUndefined();
      }
      expect(s.attrs['audit.violation'], s.name).toBeUndefined();
    }
    const refund = tools.find((s) => s.attrs['tool.name'] === 'issueRefund');
    expect(refund?.attrs['decision.outcome']).toBe('approval_required');
    expect(refund?.attrs['output.hash']).toBeUndefined();
    expect(refund?.events).toContain('side_effect.blocked');
    const requested = spans
      .filter((s) => s.attrs['gen_ai.operation.name'] === 'chat')
      .flatMap((s) => s.attrs['llm.requested_tool_call_ids'] as string[]);
    expect(requested.sort()).toEqual(
      tools.map((s) => s.attrs['gen_ai.tool.call.id'] as string).sort(),
    );
  });

  it('explains the run counting each model and tool call once, not the framework telemetry too', async () => {
    const { stdout: out } = await run(
      process.execPath,
      [CLI, 'explain', runId, '--json', '--store', join(work, '.agent-audit')],
      { env },
    );
    const x = JSON.parse(out);
    const ours = readSegments(join(work, '.agent-audit'))
      .filter((r) => r.type === 'span.end')
      .map((r) => attrsOf(spanOf(r)))
      .filter((a) => a['workflow.run_id'] === runId);
    const chats = ours.filter((a) => a['gen_ai.operation.name'] === 'chat').length;
    expect(chats).toBeGreaterThan(0);
    // The AI SDK's own doGenerate spans carry the model too; explain lists the audit's only.
    expect(x.context.llm_calls).toHaveLength(chats);
    // Each action links back to the model call that asked for it.
    const asked = x.context.llm_calls.flatMap(
      (c: { requested_tool_call_ids: string[] | null }) => c.requested_tool_call_ids ?? [],
    );
    for (const a of x.actions) expect(asked).toContain(a.tool_call_id);
    expect(x.actions.map((a: { tool: string }) => a.tool).sort()).toEqual([
      'issueRefund',
      'lookupCustomer',
      'lookupOrder',
      'notifyCustomer',
    ]);
  });

  it('verifies the store', async () => {
    const { stdout: out } = await run(
      process.execPath,
      [CLI, 'verify', '--store', join(work, '.agent-audit')],
      { env },
    );
    expect(out).toMatch(/\S/);
  });
});
