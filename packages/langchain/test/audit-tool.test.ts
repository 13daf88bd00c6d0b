import { type PolicyHook, runWorkflow, setAuditHooks } from '@agent-audit/instrumentation';
import { HumanMessage, ToolMessage } from '@langchain/core/messages';
import { Command, MemorySaver } from '@langchain/langgraph';
import { describe, expect, it } from 'vitest';
import { useOtel } from '../../instrumentation/test/support/otel.js';
import { type ApprovalInterrupt, auditTool } from '../src/index.js';
import { attr, hashOf, makeTools, named, RUN } from './support/fixtures.js';
import { toolNodeGraph } from './support/graph.js';

// LangGraph's prebuilt ToolNode has no wrapToolCall: auditTool() wraps each tool instead, so a
// graph built on it gets the same gate and the same interrupt-based approvals.

const otel = useOtel({ afterEach: () => setAuditHooks(undefined) });

const policy: PolicyHook = (a) =>
  a.toolName === 'send_email'
    ? { outcome: 'approval_required', reason: 'outbound email', policyId: 'mail' }
    : a.toolName === 'delete_account'
      ? { outcome: 'stop', reason: 'never', policyId: 'mail' }
      : { outcome: 'allow', policyId: 'mail' };

describe('auditTool on a StateGraph with LangGraph ToolNode', () => {
  it('approval_required interrupts the graph; the resume is the approval; the edited call runs', async () => {
    const t = makeTools();
    const { graph } = toolNodeGraph(
      [auditTool(t.sendEmail, { policy }), auditTool(t.weather, { policy })],
      [
        { name: 'send_email', args: { to: 'a@b.test', body: 'draft' }, id: 'at_mail' },
        { name: 'get_weather', args: { city: 'Graz' }, id: 'at_w' },
      ],
      new MemorySaver(),
    );
    const config = { configurable: { thread_id: 'at-1' } };
    await runWorkflow(RUN, async () => {
      const paused = await graph.invoke({ messages: [new HumanMessage('go')] }, config);
      const payload = (paused as unknown as { __interrupt__: { value: ApprovalInterrupt }[] })
        .__interrupt__[0]!.value;
      expect(payload.toolName).toBe('send_email');
      expect(payload.toolCallId).toBe('at_mail');
      expect(t.calls.sendEmail).toHaveLength(0);
      await graph.invoke(
        new Command({
          resume: {
            approver: 'user:jane',
            decision: 'approved',
            approvedInput: { to: 'a@b.test', body: 'final' },
            approvalId: payload.approvalId,
          },
        }),
        config,
      );
    });
    expect(t.calls.sendEmail).toEqual([{ to: 'a@b.test', body: 'final' }]);
    const mails = named(otel.spans(), 'execute_tool send_email');
    // One request at the pause, one approval, one executed call (no refusal on resume).
    expect(mails.map((s) => attr(s, 'decision.outcome'))).toEqual(['approval_required', 'allow']);
    const allowed = mails[1]!;
    expect(attr(otel.byName('approval send_email'), 'approval.id')).toBe(
      attr(mails[0]!, 'approval.id'),
    );
    expect(attr(allowed, 'gen_ai.tool.call.id')).toBe('at_mail');
    expect(attr(allowed, 'input.hash')).toBe(hashOf({ to: 'a@b.test', body: 'final' }));
    expect(attr(allowed, 'output.hash')).toBe(
      hashOf({ content: 'sent to a@b.test', status: 'success' }),
    );
    expect(attr(otel.byName('approval send_email'), 'approval.edits')).toEqual(['body']);
    // LangGraph re-runs the whole ToolNode task on resume: the weather call of the same model
    // message ran again, and the trail says so (two audited calls with the same call id).
    expect(t.calls.weather).toBe(2);
    const weather = named(otel.spans(), 'execute_tool get_weather');
    expect(weather.map((s) => attr(s, 'gen_ai.tool.call.id'))).toEqual(['at_w', 'at_w']);
  });

  it('a stopped call returns an error tool message; the body never runs', async () => {
    const t = makeTools();
    const { graph, model } = toolNodeGraph(
      [auditTool(t.deleteAccount, { policy })],
      [{ name: 'delete_account', args: { userId: 'u' }, id: 'at_del' }],
    );
    await runWorkflow(RUN, () => graph.invoke({ messages: [new HumanMessage('go')] }));
    expect(t.calls.deleteAccount).toBe(0);
    const msg = model.calls[1]?.messages.find((m) => ToolMessage.isInstance(m));
    expect(ToolMessage.isInstance(msg) && msg.status).toBe('error');
    expect(attr(otel.byName('execute_tool delete_account'), 'decision.outcome')).toBe('stop');
  });
});
