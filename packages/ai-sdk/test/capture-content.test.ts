// With captureContent on (registerAgentAudit({ captureContent: true })), raw content is the
// point: our spans carry the tool arguments and messages, and the AI SDK's own raw attributes
// are kept (the processor drops them only when captureContent is off). ai@6.
import { runWorkflow } from '@agent-audit/instrumentation';
import { type AgentAuditHandle, registerAgentAudit } from '@agent-audit/sdk';
import { generateText, jsonSchema, stepCountIs, tool } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  attrsOf,
  readSegments,
  spanOf,
  type TempStore,
  tempStore,
} from '../../sdk/test/helpers.js';
import { auditModel, auditTools } from '../src/index.js';
import { scriptedGenerate } from './scripted-model.js';

let ts: TempStore;
let audit: AgentAuditHandle;

beforeAll(() => {
  ts = tempStore('aa-ai-sdk-capture-');
  audit = registerAgentAudit({
    storeDir: ts.storeDir,
    trustDir: ts.trustDir,
    forward: false,
    installExitHandlers: false,
    captureContent: true,
  });
});
afterAll(async () => {
  await audit.shutdown();
  ts.cleanup();
});

it('keeps raw content on our spans and on the framework spans', async () => {
  const model = new MockLanguageModelV3({
    doGenerate: scriptedGenerate([
      { toolCalls: [{ id: 'call-1', name: 'lookupOrder', input: { orderId: 'Z-9' } }] },
      { text: 'Z-9 shipped.' },
    ]),
  });
  const tools = {
    lookupOrder: tool({
      inputSchema: jsonSchema<{ orderId: string }>({
        type: 'object',
        properties: { orderId: { type: 'string' } },
        required: ['orderId'],
      }),
      execute: async ({ orderId }) => ({ orderId, status: 'shipped' }),
    }),
  };
  const traceId = await runWorkflow({ agentId: 'capture-agent' }, async (run) => {
    await generateText({
      model: auditModel(model),
      tools: auditTools(tools),
      prompt: 'Where is Z-9?',
      stopWhen: stepCountIs(3),
      experimental_telemetry: { isEnabled: true },
    });
    return run.span.spanContext().traceId;
  });
  await audit.forceFlush();
  const spans = readSegments(ts.storeDir)
    .filter((r) => r.type === 'span.end')
    .map((r) => spanOf(r))
    .filter((s) => s.traceId === traceId)
    .map((s) => ({ name: s.name, attrs: attrsOf(s) }));
  const ours = spans.find((s) => s.name === 'execute_tool lookupOrder');
  expect(ours?.attrs['gen_ai.tool.call.arguments']).toContain('Z-9');
  expect(ours?.attrs['gen_ai.tool.call.result']).toContain('shipped');
  const llm = spans.filter((s) => s.name === 'chat mock-model-id');
  expect(llm).toHaveLength(2);
  expect(String(llm[0]?.attrs['gen_ai.input.messages'])).toContain('Where is Z-9?');
  const framework = spans.find((s) => s.name === 'ai.toolCall');
  expect(framework?.attrs['ai.toolCall.args']).toContain('Z-9');
});
