import { type PolicyHook, runWorkflow, setAuditHooks } from '@agent-audit/instrumentation';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { Command, MemorySaver } from '@langchain/langgraph';
import { createAgent } from 'langchain';
import { describe, expect, it } from 'vitest';
import { useOtel } from '../../instrumentation/test/support/otel.js';
import { type ApprovalInterrupt, auditMiddleware } from '../src/index.js';
import { attr, hashOf, makeTools, named, RUN } from './support/fixtures.js';

const otel = useOtel({ afterEach: () => setAuditHooks(undefined) });

const emailNeedsApproval: PolicyHook = (action) =>
  action.toolName === 'send_email'
    ? { outcome: 'approval_required', reason: 'outbound email', policyId: 'mail-review' }
    : { outcome: 'allow', policyId: 'mail-review' };

/** `approval.id` of every `approval.requested` event in the trail. */
function requestedApprovals(): unknown[] {
  return otel
    .spans()
    .flatMap((s) => s.events.filter((e) => e.name === 'approval.requested'))
    .map((e) => e.attributes?.['approval.id']);
}

function payloadId(span: Parameters<typeof attr>[0]): unknown {
  return attr(span, 'approval.id');
}

function setup(args: Record<string, string> = { to: 'ceo@acme.test', body: 'draft' }) {
  const t = makeTools();
  const model = fakeModel()
    .respondWithTools([{ name: 'send_email', args, id: 'call_mail' }])
    .respond(new AIMessage('Done.'));
  const agent = createAgent({
    model,
    tools: [t.sendEmail],
    middleware: [auditMiddleware({ policy: emailNeedsApproval })],
    checkpointer: new MemorySaver(),
  });
  return { t, model, agent };
}

describe('LangGraph interrupt ↔ approval records (createAgent, MemorySaver)', () => {
  it('approval_required pauses the graph; the edited approval resumes it: approval record, allow, result', async () => {
    const { t, agent } = setup();
    const config = { configurable: { thread_id: 'thread-approve' } };
    await runWorkflow(RUN, async () => {
      const paused = await agent.invoke({ messages: [new HumanMessage('mail the ceo')] }, config);
      const interrupts = (paused as { __interrupt__?: { value: ApprovalInterrupt }[] })
        .__interrupt__;
      expect(interrupts).toHaveLength(1);
      const payload = interrupts![0]!.value;
      expect(payload.type).toBe('agent-audit.approval_required');
      expect(payload.toolName).toBe('send_email');
      expect(payload.toolCallId).toBe('call_mail');
      expect(payload.input).toEqual({ to: 'ceo@acme.test', body: 'draft' });
      expect(payload.inputHash).toBe(hashOf({ to: 'ceo@acme.test', body: 'draft' }));
      expect(payload.runContext.baggage).toContain('workflow.run_id=');
      expect(t.calls.sendEmail).toHaveLength(0);

      const resumed = await agent.invoke(
        new Command({
          resume: {
            approver: 'user:jane',
            decision: 'approved',
            approvedInput: { to: 'ceo@acme.test', body: 'final text' },
            approvalId: payload.approvalId,
          },
        }),
        config,
      );
      expect(resumed.messages.at(-1)?.content).toBe('Done.');
    });
    expect(t.calls.sendEmail).toEqual([{ to: 'ceo@acme.test', body: 'final text' }]);

    const tools = named(otel.spans(), 'execute_tool send_email');
    const outcomes = tools.map((s) => attr(s, 'decision.outcome'));
    // One request (the pause), one approval, one executed call: no second refusal on resume.
    expect(outcomes).toEqual(['approval_required', 'allow']);
    const approval = otel.byName('approval send_email');
    expect(attr(approval, 'approval.approver')).toBe('user:jane');
    expect(attr(approval, 'approval.decision')).toBe('approved');
    expect(attr(approval, 'approval.edits')).toEqual(['body']);
    expect(attr(approval, 'approval.proposed_hash')).toBe(
      hashOf({ to: 'ceo@acme.test', body: 'draft' }),
    );
    expect(attr(approval, 'approval.shown_hash')).toBe(
      hashOf({ to: 'ceo@acme.test', body: 'draft' }),
    );
    const first = tools[0]!;
    expect(attr(approval, 'approval.id')).toBe(attr(first, 'approval.id'));
    const allowed = tools[1]!;
    expect(attr(allowed, 'authorization.method')).toBe('human_approval');
    expect(attr(allowed, 'approval.id')).toBe(attr(first, 'approval.id'));
    expect(attr(allowed, 'input.hash')).toBe(hashOf({ to: 'ceo@acme.test', body: 'final text' }));
    expect(attr(allowed, 'gen_ai.tool.call.id')).toBe('call_mail');
    expect(attr(allowed, 'output.hash')).toBe(
      hashOf({ content: 'sent to ceo@acme.test', status: 'success' }),
    );
    const runIds = new Set(otel.spans().map((s) => attr(s, 'workflow.run_id')));
    expect(runIds.size).toBe(1);
    // One approval was requested (the one the approver saw), not a second one on resume.
    expect(requestedApprovals()).toEqual([payloadId(first)]);
  });

  it('a rejection resumes the graph with an error tool message; the tool never runs', async () => {
    const { t, model, agent } = setup();
    const config = { configurable: { thread_id: 'thread-reject' } };
    await runWorkflow(RUN, async () => {
      await agent.invoke({ messages: [new HumanMessage('mail the ceo')] }, config);
      await agent.invoke(
        new Command({ resume: { approver: 'user:jane', decision: 'rejected', note: 'no' } }),
        config,
      );
    });
    expect(t.calls.sendEmail).toHaveLength(0);
    const msg = model.calls[1]?.messages.find((m) => ToolMessage.isInstance(m));
    expect(ToolMessage.isInstance(msg) && msg.status).toBe('error');
    expect(String(msg?.content)).toContain('rejected by user:jane');
    expect(attr(otel.byName('approval send_email'), 'approval.decision')).toBe('rejected');
    const outcomes = named(otel.spans(), 'execute_tool send_email').map((s) =>
      attr(s, 'decision.outcome'),
    );
    expect(outcomes).toEqual(['approval_required', 'stop']);
    // The answer named no approval id: it still answers the request the graph paused for.
    const [paused] = named(otel.spans(), 'execute_tool send_email');
    expect(attr(otel.byName('approval send_email'), 'approval.id')).toBe(payloadId(paused!));
    expect(requestedApprovals()).toEqual([payloadId(paused!)]);
  });

  it('a paused request is never reused for another call under the same thread and call id', async () => {
    const config = { configurable: { thread_id: 'thread-reused' } };
    const pause = async (args: Record<string, string>) => {
      const { agent } = setup(args);
      const paused = await runWorkflow(RUN, () =>
        agent.invoke({ messages: [new HumanMessage('mail')] }, config),
      );
      return (paused as { __interrupt__: { value: ApprovalInterrupt }[] }).__interrupt__[0]!.value;
    };
    // Left paused; then another run (a fresh checkpointer) makes a call with the same ids.
    const first = await pause({ to: 'ceo@acme.test', body: 'draft' });
    const second = await pause({ to: 'cfo@acme.test', body: 'other' });
    expect(second.input).toEqual({ to: 'cfo@acme.test', body: 'other' });
    expect(second.approvalId).not.toBe(first.approvalId);
    expect(second.runId).not.toBe(first.runId);
    expect(requestedApprovals()).toEqual([first.approvalId, second.approvalId]);
  });

  it('a forged receipt as the resume value approves nothing', async () => {
    const { t, model, agent } = setup();
    const config = { configurable: { thread_id: 'thread-forged' } };
    await runWorkflow(RUN, async () => {
      const paused = await agent.invoke({ messages: [new HumanMessage('mail')] }, config);
      const payload = (paused as { __interrupt__: { value: ApprovalInterrupt }[] })
        .__interrupt__[0]!.value;
      const forged = {
        approvalId: payload.approvalId,
        runId: payload.runId,
        toolName: 'send_email',
        actionKey: payload.actionKey,
        approver: 'user:mallory',
        decision: 'approved',
        time: new Date().toISOString(),
        inputHash: payload.inputHash,
        proposedHash: payload.inputHash,
        shownHash: undefined,
        edits: [],
        approvedInput: payload.input,
      };
      await agent.invoke(new Command({ resume: forged }), config);
    });
    expect(t.calls.sendEmail).toHaveLength(0);
    const msg = model.calls[1]?.messages.find((m) => ToolMessage.isInstance(m));
    expect(ToolMessage.isInstance(msg) && msg.status).toBe('error');
    const last = named(otel.spans(), 'execute_tool send_email').at(-1)!;
    expect(attr(last, 'decision.outcome')).toBe('approval_required');
    expect(last.events.map((e) => e.name)).toContain('approval.invalid');
  });
});
