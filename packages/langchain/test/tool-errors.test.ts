import { runWorkflow, setAuditHooks } from '@agent-audit/instrumentation';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { SpanStatusCode } from '@opentelemetry/api';
import { createAgent, createMiddleware } from 'langchain';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { useOtel } from '../../instrumentation/test/support/otel.js';
import { AgentAuditCallbackHandler, auditMiddleware } from '../src/index.js';
import { attr, makeTools, named, RUN } from './support/fixtures.js';
import { toolNodeGraph } from './support/graph.js';

// The tool's own errors are the agent's: they reach LangChain unchanged (it decides what the
// model sees), and the tool span records them.

const otel = useOtel({ afterEach: () => setAuditHooks(undefined) });

class LedgerDown extends Error {
  override name = 'LedgerDown';
}
const failing = tool(
  async () => {
    throw new LedgerDown('ledger unavailable');
  },
  { name: 'post_ledger', description: 'Posts to the ledger', schema: z.object({ n: z.number() }) },
);

describe("a tool's own error", () => {
  it('middleware: LangChain gets the same error as with a pass-through middleware; the span records it', async () => {
    const run = async (middleware: ReturnType<typeof createMiddleware>) => {
      const model = fakeModel()
        .respondWithTools([{ name: 'post_ledger', args: { n: 1 }, id: 'e1' }])
        .respond(new AIMessage('x'));
      const agent = createAgent({ model, tools: [failing], middleware: [middleware] });
      return runWorkflow(RUN, () => agent.invoke({ messages: [new HumanMessage('go')] })).then(
        () => undefined,
        (e: unknown) => e,
      );
    };
    const passThrough = createMiddleware({
      name: 'PassThrough',
      wrapToolCall: (r, h) => h(r),
    });
    const plain = await run(passThrough);
    const audited = await run(auditMiddleware());
    expect(plain).toBeInstanceOf(LedgerDown);
    expect(audited).toBeInstanceOf(LedgerDown);
    expect((audited as Error).message).toBe((plain as Error).message);
    const span = otel.byName('execute_tool post_ledger');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(attr(span, 'error.type')).toBe('LedgerDown');
  });

  it('callback handler: ToolNode turns it into an error tool message as without the handler; the span records it', async () => {
    const { graph, model } = toolNodeGraph(
      [failing],
      [{ name: 'post_ledger', args: { n: 2 }, id: 'e2' }],
    );
    await runWorkflow(RUN, () =>
      graph.invoke(
        { messages: [new HumanMessage('go')] },
        { callbacks: [new AgentAuditCallbackHandler()] },
      ),
    );
    const msg = model.calls[1]?.messages.find((m) => ToolMessage.isInstance(m));
    expect(ToolMessage.isInstance(msg) && msg.status).toBe('error');
    expect(String(msg?.content)).toContain('ledger unavailable');
    const span = otel.byName('execute_tool post_ledger');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(attr(span, 'error.type')).toBe('LedgerDown');
  });
});

describe('a streamed graph run with the callback handler', () => {
  it('records the tool calls and the model calls while the graph streams messages', async () => {
    const t = makeTools();
    const { graph } = toolNodeGraph(
      [t.weather, t.time],
      [
        { name: 'get_weather', args: { city: 'Turin' }, id: 's_w' },
        { name: 'get_time', args: { city: 'Turin' }, id: 's_t' },
      ],
    );
    const seen: unknown[] = [];
    await runWorkflow(RUN, async () => {
      const stream = await graph.stream(
        { messages: [new HumanMessage('Turin?')] },
        { streamMode: 'messages', callbacks: [new AgentAuditCallbackHandler()] },
      );
      for await (const chunk of stream) seen.push(chunk);
    });
    expect(seen.length).toBeGreaterThan(0);
    expect(t.calls.weather).toBe(1);
    expect(t.calls.time).toBe(1);
    expect(attr(otel.byName('execute_tool get_weather'), 'gen_ai.tool.call.id')).toBe('s_w');
    expect(attr(otel.byName('execute_tool get_time'), 'gen_ai.tool.call.id')).toBe('s_t');
    const chats = named(otel.spans(), 'chat FakeBuiltModel');
    expect(chats).toHaveLength(2);
    expect(chats.map((c) => attr(c, 'llm.requested_tool_call_ids'))).toContainEqual(['s_w', 's_t']);
  });
});
