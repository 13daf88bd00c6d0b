import type { ToolCall } from '@langchain/core/messages/tool';
import { type StructuredToolInterface, type ToolRuntime, tool } from '@langchain/core/tools';
import { auditToolCall } from './audit-tool-call.js';
import type { AuditLangChainOptions } from './options.js';

/**
 * A tool with the same name, description and schema whose every call goes through
 * {@link auditToolCall}: for graphs built on LangGraph's prebuilt `ToolNode`, which has no
 * `wrapToolCall` hook. Inside the graph, `approval_required` pauses it with `interrupt()` like
 * the middleware does, and the resume is recorded as the approval.
 *
 * ```ts
 * new ToolNode([auditTool(sendEmail), auditTool(search)])
 * ```
 *
 * The original tool runs through its own `invoke` (its callbacks, schema and output format
 * unchanged); a refusal is returned as an error `ToolMessage`.
 */
export function auditTool(original: StructuredToolInterface, options?: AuditLangChainOptions) {
  const wrap = auditToolCall(options);
  return tool(
    async (args: unknown, runtime: ToolRuntime) => {
      const toolCall: ToolCall = {
        name: original.name,
        args: args as Record<string, unknown>,
        id: runtime?.toolCall?.id ?? runtime?.toolCallId,
        type: 'tool_call',
      };
      // The original runs with the caller's config (callbacks, signal, configurable), and the
      // tool call it is given (the approved arguments after an approval).
      const config = runtime?.config ?? {};
      return wrap(
        { toolCall, tool: original, runtime: { configurable: config.configurable } },
        (request) => original.invoke(request.toolCall, config),
      );
    },
    {
      name: original.name,
      description: original.description,
      schema: original.schema as never,
    },
  );
}
