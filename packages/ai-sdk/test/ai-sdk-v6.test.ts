// @agent-audit/ai-sdk against ai@6 (Node 18+): the shared suite with ai@6's own
// MockLanguageModelV3 and its built-in OpenTelemetry (`experimental_telemetry`).
import {
  generateText,
  jsonSchema,
  stepCountIs,
  streamText,
  ToolLoopAgent,
  tool,
  wrapLanguageModel,
} from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { type AiApi, aiSdkSuite } from './ai-sdk-suite.js';

aiSdkSuite({
  major: 6,
  generateText: generateText as unknown as AiApi['generateText'],
  streamText: streamText as unknown as AiApi['streamText'],
  ToolLoopAgent: ToolLoopAgent as unknown as AiApi['ToolLoopAgent'],
  stepCountIs,
  tool: tool as unknown as AiApi['tool'],
  jsonSchema: jsonSchema as unknown as AiApi['jsonSchema'],
  wrapLanguageModel: wrapLanguageModel as unknown as AiApi['wrapLanguageModel'],
  MockLanguageModel: MockLanguageModelV3 as unknown as AiApi['MockLanguageModel'],
  telemetryOn: () => ({ experimental_telemetry: { isEnabled: true } }),
  // ai@6 names its tool span `ai.toolCall` (tracer `ai`), without gen_ai.operation.name.
  isFrameworkToolSpan: (s) => s.scope === 'ai' && s.name === 'ai.toolCall',
});
