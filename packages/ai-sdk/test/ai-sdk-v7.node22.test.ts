// @agent-audit/ai-sdk against ai@7 (Node 22+, run by `pnpm test:node22`): the shared suite with
// ai@7's own MockLanguageModelV4. ai@7 makes no OpenTelemetry spans itself; its OTel spans come
// from the @ai-sdk/otel integration, given per call here (`telemetry.integrations`).
import { OpenTelemetry } from '@ai-sdk/otel';
import {
  generateText,
  jsonSchema,
  stepCountIs,
  streamText,
  ToolLoopAgent,
  tool,
  wrapLanguageModel,
} from 'ai-v7';
import { MockLanguageModelV4 } from 'ai-v7/test';
import { type AiApi, aiSdkSuite } from './ai-sdk-suite.js';

aiSdkSuite({
  major: 7,
  generateText: generateText as unknown as AiApi['generateText'],
  streamText: streamText as unknown as AiApi['streamText'],
  ToolLoopAgent: ToolLoopAgent as unknown as AiApi['ToolLoopAgent'],
  stepCountIs,
  tool: tool as unknown as AiApi['tool'],
  jsonSchema: jsonSchema as unknown as AiApi['jsonSchema'],
  wrapLanguageModel: wrapLanguageModel as unknown as AiApi['wrapLanguageModel'],
  MockLanguageModel: MockLanguageModelV4 as unknown as AiApi['MockLanguageModel'],
  telemetryOn: () => ({ telemetry: { isEnabled: true, integrations: [new OpenTelemetry()] } }),
  // @ai-sdk/otel names its tool span `execute_tool {name}` (tracer `gen_ai`) with
  // gen_ai.operation.name = execute_tool: the span the processor must not take for ours.
  isFrameworkToolSpan: (s) =>
    s.scope === 'gen_ai' && s.attrs['gen_ai.operation.name'] === 'execute_tool',
});
