import { runWorkflow, setAuditHooks } from '@agent-audit/instrumentation';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { MemorySaver } from '@langchain/langgraph';
import { createAgent } from 'langchain';
import { describe, expect, it } from 'vitest';
import { useOtel } from '../../instrumentation/test/support/otel.js';
import { AgentAuditCallbackHandler, auditMiddleware } from '../src/index.js';
import { attr, makeTools, RUN } from './support/fixtures.js';
import { toolNodeGraph } from './support/graph.js';

// The one gate: with no policy in the integration's options, the process-wide policy of
// setAuditHooks({ policy }) (what registerAgentAudit({ policy }) sets) decides, inside
// traceToolCall, for the middleware and the callback handler alike.

const otel = useOtel({ afterEach: () => setAuditHooks(undefined) });

const processPolicy = () =>
  setAuditHooks({
    policy: (a) =>
      a.toolName === 'delete_account'
        ? { outcome: 'stop', reason: 'process policy', policyId: 'global' }
        : { outcome: 'allow', policyId: 'global' },
  });

describe('the process-wide policy gates LangChain tool calls', () => {
  it('middleware: stop with side_effect.blocked, the thread id on the span, the body never runs', async () => {
    processPolicy();
    const t = makeTools();
    const model = fakeModel()
      .respondWithTools([
        { name: 'delete_account', args: { userId: 'u-2' }, id: 'p_del' },
        { name: 'get_weather', args: { city: 'Oslo' }, id: 'p_ok' },
      ])
      .respond(new AIMessage('ok'));
    const agent = createAgent({
      model,
      tools: [t.deleteAccount, t.weather],
      middleware: [
        auditMiddleware({
          sideEffects: { delete_account: { operation: 'delete', targetSystem: 'accounts' } },
        }),
      ],
      checkpointer: new MemorySaver(),
    });
    await runWorkflow(RUN, () =>
      agent.invoke(
        { messages: [new HumanMessage('go')] },
        { configurable: { thread_id: 'thread-77' } },
      ),
    );
    expect(t.calls.deleteAccount).toBe(0);
    expect(t.calls.weather).toBe(1);
    const del = otel.byName('execute_tool delete_account');
    expect(attr(del, 'decision.outcome')).toBe('stop');
    expect(attr(del, 'decision.policy')).toBe('global');
    expect(attr(del, 'langgraph.thread_id')).toBe('thread-77');
    expect(attr(del, 'langchain.hook')).toBe('wrapToolCall');
    expect(del.events.map((e) => e.name)).toContain('side_effect.blocked');
    const msg = model.calls[1]?.messages.find(
      (m) => ToolMessage.isInstance(m) && m.tool_call_id === 'p_del',
    );
    expect(ToolMessage.isInstance(msg) && msg.status).toBe('error');
  });

  it('callback handler: the same gate, before the tool body', async () => {
    processPolicy();
    const t = makeTools();
    const { graph } = toolNodeGraph(
      [t.deleteAccount],
      [{ name: 'delete_account', args: { userId: 'u-3' }, id: 'p_cb' }],
    );
    await runWorkflow(RUN, () =>
      graph.invoke(
        { messages: [new HumanMessage('go')] },
        { callbacks: [new AgentAuditCallbackHandler()] },
      ),
    );
    expect(t.calls.deleteAccount).toBe(0);
    const del = otel.byName('execute_tool delete_account');
    expect(attr(del, 'decision.outcome')).toBe('stop');
    expect(attr(del, 'decision.policy')).toBe('global');
    expect(attr(del, 'langchain.hook')).toBe('callback');
  });

  it('with no policy anywhere, a call is recorded allowed by decision.policy=none', async () => {
    const t = makeTools();
    const model = fakeModel()
      .respondWithTools([{ name: 'get_weather', args: { city: 'Bonn' }, id: 'p_none' }])
      .respond(new AIMessage('ok'));
    const agent = createAgent({ model, tools: [t.weather], middleware: [auditMiddleware()] });
    await runWorkflow(RUN, () => agent.invoke({ messages: [new HumanMessage('go')] }));
    const s = otel.byName('execute_tool get_weather');
    expect(attr(s, 'decision.outcome')).toBe('allow');
    expect(attr(s, 'decision.policy')).toBe('none');
  });

  it('a bad sideEffects option is a Configuration error', () => {
    expect(() => auditMiddleware({ sideEffects: { x: { operation: 'delete' } as never } })).toThrow(
      /^Configuration: sideEffects\.x is invalid/,
    );
  });
});
