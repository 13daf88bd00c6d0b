import {
  ATTR_DECISION_OUTCOME,
  ATTR_DECISION_POLICY,
  ATTR_INPUT_HASH,
  ATTR_OUTPUT_HASH,
  ATTR_WORKFLOW_RUN_ID,
  hashValue,
  runWorkflow,
} from '@agent-audit/instrumentation';
import { Agent, run, setTraceProcessors, setTracingDisabled, tool } from '@openai/agents';
import { assistantMessage, functionCall, ScriptedModel } from '@openai/agents/testing';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AuditTraceProcessor, auditAgent } from '../src/index.js';
import { setupOtel, type TestOtel } from './support/otel.js';

let otel: TestOtel;
beforeAll(() => {
  otel = setupOtel();
  setTracingDisabled(false);
  setTraceProcessors([new AuditTraceProcessor()]);
});
afterEach(() => otel.reset());

const RUN = { agentId: 'oa-agent', triggerPrincipal: 'user:1' };

function lookupTool(counter: { n: number }) {
  return tool({
    name: 'lookup_order',
    description: 'Looks up an order',
    parameters: z.object({ orderId: z.string() }),
    execute: async ({ orderId }) => {
      counter.n++;
      return { orderId, status: 'shipped' };
    },
  });
}

const attr = (s: ReadableSpan, name: string) => s.attributes[name];

describe('auditAgent with the real @openai/agents run loop', () => {
  it('records two tool calls of one model message, each with its call id and hashes', async () => {
    const counter = { n: 0 };
    const model = new ScriptedModel([
      [
        functionCall('lookup_order', { orderId: 'A1' }, { callId: 'call_1' }),
        functionCall('lookup_order', { orderId: 'B2' }, { callId: 'call_2' }),
      ],
      [assistantMessage('both shipped')],
    ]);
    const agent = auditAgent(new Agent({ name: 'Support', model, tools: [lookupTool(counter)] }));
    const { runId, out } = await runWorkflow({ ...RUN, runId: 'run-oa-two' }, async (h) => ({
      runId: h.runId,
      out: await run(agent, 'where are my orders?'),
    }));
    expect(out.finalOutput).toBe('both shipped');
    expect(counter.n).toBe(2);
    const tools = otel.named('execute_tool lookup_order');
    expect(tools.map((s) => attr(s, 'gen_ai.tool.call.id')).sort()).toEqual(['call_1', 'call_2']);
    for (const s of tools) {
      const id = attr(s, 'gen_ai.tool.call.id');
      const input = id === 'call_1' ? { orderId: 'A1' } : { orderId: 'B2' };
      const h = hashValue(input);
      expect(h.ok && attr(s, ATTR_INPUT_HASH)).toBe(h.ok && h.hash);
      expect(attr(s, ATTR_OUTPUT_HASH)).toMatch(/^sha256:/);
      expect(attr(s, ATTR_WORKFLOW_RUN_ID)).toBe(runId);
      expect(attr(s, ATTR_DECISION_OUTCOME) ?? 'allow').toBe('allow');
    }
    // The tool spans sit under the SDK's agent span, which sits under the run.
    const agentSpan = otel.named('agent Support')[0]!;
    expect(agentSpan).toBeDefined();
    for (const s of tools) expect(isUnder(s, agentSpan)).toBe(true);
    console.log(otel.spans().map((s) => s.name));
  });
});

function isUnder(child: ReadableSpan, ancestor: ReadableSpan): boolean {
  const byId = new Map(otel.spans().map((s) => [s.spanContext().spanId, s]));
  let cur: ReadableSpan | undefined = child;
  while (cur !== undefined) {
    const pid = cur.parentSpanContext?.spanId;
    if (pid === undefined) return false;
    if (pid === ancestor.spanContext().spanId) return true;
    cur = byId.get(pid);
  }
  return false;
}
void ATTR_DECISION_POLICY;
