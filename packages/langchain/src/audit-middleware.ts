import { traceLlmCall } from '@agent-audit/instrumentation';
import type { BaseMessage } from '@langchain/core/messages';
import { createMiddleware } from 'langchain';
import { auditToolCall } from './audit-tool-call.js';
import { markAudited } from './audited-spans.js';
import { modelOptions, plainMessage, responseOf } from './model-call.js';
import { type AuditLangChainOptions, checkOptions } from './options.js';

/**
 * The `createAgent` middleware: every tool call through {@link auditToolCall} (its
 * `wrapToolCall` hook) and every model call as a `chat {model}` span (its `wrapModelCall`
 * hook: model, prompt hash, tokens, finish reason, requested tool calls).
 *
 * ```ts
 * const agent = createAgent({ model, tools, middleware: [auditMiddleware()], checkpointer });
 * ```
 */
export function auditMiddleware(options?: AuditLangChainOptions) {
  const opts = checkOptions(options);
  const wrapToolCall = auditToolCall(opts);
  return createMiddleware({
    name: 'AgentAuditMiddleware',
    wrapToolCall: (request, handler) => wrapToolCall(request, handler),
    ...(opts.recordModelCalls === false
      ? {}
      : {
          wrapModelCall: (request, handler) =>
            traceLlmCall(
              {
                ...modelOptions(request.model),
                prompt: (request.messages as BaseMessage[]).map(plainMessage),
                ...(request.systemMessage !== undefined && request.systemMessage.text !== ''
                  ? { systemPrompt: request.systemMessage.text }
                  : {}),
              },
              async (call) => {
                markAudited(call.span);
                const message = await handler(request);
                call.setResponse(responseOf(message));
                return message;
              },
            ),
        }),
  });
}
