import { ApprovalRequiredError, ToolCallRefusedError } from '@agent-audit/instrumentation';

/** `_meta` key of a refusal result (MCP `_meta` keys are DNS-prefixed). */
export const REFUSAL_META_KEY = 'dev.agent-audit/refusal';

/** What a refused call returns in `refusal: 'result'` mode: an MCP tool error result. */
export interface RefusalResult {
  [key: string]: unknown;
  content: { type: 'text'; text: string }[];
  isError: true;
  _meta: {
    [REFUSAL_META_KEY]: { code: string; toolName: string; approvalId?: string };
  };
}

/**
 * The MCP idiom for a refused tool call: a `CallToolResult` with `isError: true`, which the
 * agent's model sees like any other tool error; the refusal's code (and the approval id of an
 * `approval_required`) ride in `_meta` for code that wants to tell refusals apart.
 */
export function refusalResult(err: ToolCallRefusedError): RefusalResult {
  const detail: { code: string; toolName: string; approvalId?: string } = {
    code: err.code,
    toolName: err.toolName,
  };
  if (err instanceof ApprovalRequiredError) detail.approvalId = err.request.approvalId;
  return {
    content: [{ type: 'text', text: err.message }],
    isError: true,
    _meta: { [REFUSAL_META_KEY]: detail },
  };
}

export function isRefusal(err: unknown): err is ToolCallRefusedError {
  return err instanceof ToolCallRefusedError;
}

/** `Configuration: <name> is invalid, expected <expected> (actual: <actual>)`. */
export function invalidOption(name: string, expected: string, actual: unknown): Error {
  const shown = actual === null ? 'null' : Array.isArray(actual) ? 'array' : typeof actual;
  return new Error(`Configuration: ${name} is invalid, expected ${expected} (actual: ${shown})`);
}
