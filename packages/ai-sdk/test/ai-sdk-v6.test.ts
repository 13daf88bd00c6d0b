// @agent-audit/ai-sdk against ai@6 (Node 18+): the shared suite with ai@6's own
// MockLanguageModelV3 and its built-in OpenTelemetry (`experimental_telemetry`).
import * as ai from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { aiApiOf, aiSdkSuite } from './ai-sdk-suite.js';

aiSdkSuite({
  major: 6,
  ...aiApiOf(ai, MockLanguageModelV3),
  telemetryOn: () => ({ experimental_telemetry: { isEnabled: true } }),
  // ai@6 names its tool span `ai.toolCall` (tracer `ai`), without gen_ai.operation.name.
  isFrameworkToolSpan: (s) => s.scope === 'ai' && s.name === 'ai.toolCall',
});
