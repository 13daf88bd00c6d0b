/*
 * The one non-public part of `@openai/agents` (0.20) the integration uses, in one place, with
 * test/sdk-internals.node22.test.ts failing loudly when an SDK upgrade changes it.
 *
 * The runner passes `FunctionTool.invoke` a `details` object carrying an (unexported) symbol
 * `openai.agents.functionToolParsedInputCallback`: the tool calls it after parsing its
 * arguments, before the body. A refused call runs the tool's own invoke with that callback
 * replaced by one that throws the refusal, so the tool's `errorFunction` turns it into the
 * model's tool output (the SDK's idiom for a failed tool). Without it the refusal is thrown
 * (the run fails; the body still never runs) and an error is logged: no SDK change can make a
 * refused call run or a call go unaudited, only change how the refusal reaches the model.
 * Everything else (`FunctionTool.invoke`, `needsApproval`, `Agent.asTool`, `getCurrentSpan`,
 * `RunContext.isToolApproved` / `toJSON`, trace processors) is public API; that `toJSON()`
 * lists every approval decision `isToolApproved` reads is the SDK's behaviour the test checks.
 */
import { diag } from '@opentelemetry/api';
import type { AnyRunContext } from './sdk-types.js';

/** Description of the SDK's parsed-input callback symbol on a tool call's `details`. */
export const PARSED_INPUT_CALLBACK = 'openai.agents.functionToolParsedInputCallback';

const log = diag.createComponentLogger({ namespace: '@agent-audit/openai-agents' });
let warned = false;

/**
 * The parsed-input callback's symbol on `details`, or undefined. `details` the runner made
 * (it names the tool call) without it: logged once, as the SDK changed shape.
 */
export function parsedInputCallbackKey(details: object | undefined): symbol | undefined {
  if (details === undefined || details === null) return undefined;
  const key = Object.getOwnPropertySymbols(details).find(
    (sym) => sym.description === PARSED_INPUT_CALLBACK,
  );
  if (key === undefined && 'toolCall' in details && !warned) {
    warned = true;
    log.error(
      `@openai/agents no longer passes the "${PARSED_INPUT_CALLBACK}" callback to FunctionTool.invoke: refused tool calls now fail the run instead of reaching the model through the tool's errorFunction (the tool body still never runs). Update packages/openai-agents/src/sdk-internals.ts for this SDK version.`,
    );
  }
  return key;
}

/**
 * Whether `runContext` holds any approval decision (approved or rejected, per call or sticky,
 * any agent): its public `toJSON().approvals` aggregates every store `isToolApproved` reads.
 * False means `isToolApproved` answers undefined for every call.
 */
export function hasApprovalDecisions(runContext: AnyRunContext): boolean {
  const approvals: unknown = runContext.toJSON().approvals;
  if (approvals === null || typeof approvals !== 'object') return true;
  for (const _ in approvals) return true;
  return false;
}
