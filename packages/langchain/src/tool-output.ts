import { ToolMessage } from '@langchain/core/messages';
import { isCommand } from '@langchain/langgraph';

/**
 * What `output.hash` covers for a tool call's result: a tool message's content (and status and
 * artifact when present), a command's update messages by their content. The message objects
 * themselves carry ids and framework fields that would make equal results hash differently.
 */
export function toolOutputOf(result: unknown): unknown {
  if (ToolMessage.isInstance(result)) return messageOutput(result);
  if (isCommand(result)) {
    const update = result.update as { messages?: unknown } | undefined;
    const messages = Array.isArray(update?.messages) ? update.messages : [];
    return {
      command: {
        goto: result.goto ?? null,
        messages: messages.map((m) => (ToolMessage.isInstance(m) ? messageOutput(m) : null)),
      },
    };
  }
  return result;
}

function messageOutput(m: ToolMessage): unknown {
  const out: Record<string, unknown> = { content: m.content };
  if (m.status !== undefined) out.status = m.status;
  if (m.artifact !== undefined) out.artifact = m.artifact;
  return out;
}
