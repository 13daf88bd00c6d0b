/*
 * Raw content that frameworks put on their own spans: prompts, messages, tool arguments and
 * results. The audit trail holds hashes of these (made by the instrumentation on its own
 * spans); the frameworks' copies would put the raw text beside them in the store and in
 * Jaeger. So on a span that the agent-audit instrumentation did not make, these attributes are
 * removed unless the user turned `captureContent` on, and the removed names are listed in
 * `audit.content_dropped`. Request headers are removed even then: they carry API keys.
 *
 * The names come from the frameworks' sources: the Vercel AI SDK's built-in telemetry (`ai.*`,
 * ai@6 and ai@7's legacy mode), `@ai-sdk/otel` and the GenAI semantic conventions
 * (`gen_ai.*`), OpenInference (`input.value`, `output.value`, `llm.input_messages.*`, …) and
 * OpenLLMetry (`gen_ai.prompt.*`, `gen_ai.completion.*`, `traceloop.entity.input/output`).
 */

/** Names removed as a whole. */
const CONTENT_NAMES = new Set([
  // GenAI semantic conventions (also @ai-sdk/otel with ai@7)
  'gen_ai.input.messages',
  'gen_ai.output.messages',
  'gen_ai.system_instructions',
  'gen_ai.tool.definitions',
  'gen_ai.tool.call.arguments',
  'gen_ai.tool.call.result',
  'gen_ai.prompt',
  'gen_ai.completion',
  // Vercel AI SDK telemetry
  'ai.prompt',
  'ai.prompt.messages',
  'ai.prompt.tools',
  'ai.prompt.toolChoice',
  'ai.response.text',
  'ai.response.reasoning',
  'ai.response.toolCalls',
  'ai.response.object',
  'ai.response.files',
  'ai.toolCall.args',
  'ai.toolCall.result',
  'ai.toolCall.input',
  'ai.toolCall.output',
  'ai.schema',
  'ai.value',
  'ai.values',
  'ai.embedding',
  'ai.embeddings',
  'ai.documents',
  'ai.ranking',
  'ai.decision.questions',
  'ai.decision.answers',
  'ai.decision.state',
  'ai.extraction.fields',
  'ai.extraction.answers',
  'ai.extraction.state',
  // OpenInference, OpenLLMetry
  'input.value',
  'output.value',
  'traceloop.entity.input',
  'traceloop.entity.output',
]);

/** Prefixes of dynamic names (indexed messages, user metadata) removed as content. */
const CONTENT_PREFIXES = [
  'gen_ai.prompt.',
  'gen_ai.completion.',
  'ai.telemetry.metadata.',
  'ai.settings.context.',
  'llm.input_messages.',
  'llm.output_messages.',
];

/**
 * Names under a content prefix that are not content: `gen_ai.prompt.name` is the GenAI
 * conventions' name of a prompt template (MCP `prompts/get`), not OpenLLMetry's indexed prompt.
 */
const KEPT_NAMES = new Set(['gen_ai.prompt.name']);

/** Prefixes removed even with `captureContent`: credentials travel in them. */
const ALWAYS_PREFIXES = ['ai.request.headers.'];

/**
 * Removes a foreign span's raw-content attributes in place; returns the removed names (or
 * undefined when there were none, which is the common case and allocates nothing).
 */
export function dropFrameworkContent(
  attributes: Record<string, unknown>,
  captureContent: boolean,
): string[] | undefined {
  let dropped: string[] | undefined;
  for (const key in attributes) {
    if (!isDropped(key, captureContent)) continue;
    delete attributes[key];
    dropped ??= [];
    dropped.push(key);
  }
  return dropped;
}

function isDropped(key: string, captureContent: boolean): boolean {
  for (const prefix of ALWAYS_PREFIXES) if (key.startsWith(prefix)) return true;
  if (captureContent) return false;
  if (CONTENT_NAMES.has(key)) return true;
  if (KEPT_NAMES.has(key)) return false;
  for (const prefix of CONTENT_PREFIXES) if (key.startsWith(prefix)) return true;
  return false;
}
