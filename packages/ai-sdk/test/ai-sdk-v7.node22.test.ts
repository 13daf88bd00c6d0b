// @agent-audit/ai-sdk against ai@7 (Node 22+, run by `pnpm test:node22`): the shared suite with
// ai@7's own MockLanguageModelV4. ai@7 makes no OpenTelemetry spans itself; its OTel spans come
// from the @ai-sdk/otel integration, given per call here (`telemetry.integrations`).
import { OpenTelemetry } from '@ai-sdk/otel';
import * as ai from 'ai-v7';
import { MockLanguageModelV4 } from 'ai-v7/test';
import { aiApiOf, aiSdkSuite } from './ai-sdk-suite.js';

aiSdkSuite({
  major: 7,
  ...aiApiOf(ai, MockLanguageModelV4),
  telemetryOn: () => ({ telemetry: { isEnabled: true, integrations: [new OpenTelemetry()] } }),
  // @ai-sdk/otel names its tool span `execute_tool {name}` (tracer `gen_ai`) with
  // gen_ai.operation.name = execute_tool: the span the processor must not take for ours.
  isFrameworkToolSpan: (s) =>
    s.scope === 'gen_ai' && s.attrs['gen_ai.operation.name'] === 'execute_tool',
});
