import { registerConfigureHook, setContextVariable } from '@langchain/core/context';
import { AgentAuditCallbackHandler } from './callback-handler.js';
import type { AuditLangChainOptions } from './options.js';

const CONTEXT_VARIABLE = 'agent_audit_callback_handler';

/**
 * Adds an {@link AgentAuditCallbackHandler} to every LangChain run started from here on, with
 * LangChain's own configure hook (`registerConfigureHook` + `setContextVariable`). Call it once
 * at startup, before the agent runs: LangChain keeps the registration in its async context, so
 * runs started from code that began before the call (or in an unrelated async context) do not
 * see it; pass the returned handler as `callbacks: [handler]` there. Returns the handler.
 */
export function registerAgentAuditCallbacks(
  options?: AuditLangChainOptions,
): AgentAuditCallbackHandler {
  const handler = new AgentAuditCallbackHandler(options);
  registerConfigureHook({ contextVar: CONTEXT_VARIABLE });
  setContextVariable(CONTEXT_VARIABLE, handler);
  return handler;
}
