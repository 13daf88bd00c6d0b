import {
  type ComplianceFields,
  type DecisionScope,
  type PolicyHook,
  traceToolCall,
} from '@agent-audit/instrumentation';
import { configurationError } from './configuration.js';

/** Per-tool settings of {@link auditTools}; each overrides the set-wide option of the same name. */
export interface AuditToolOptions {
  /** `tool.version`. */
  toolVersion?: string;
  /** `tool.reason`: why the agent calls this tool. */
  reason?: string;
  /** The policy that decides this tool's calls. The default value is the process-wide policy. */
  policy?: PolicyHook;
  /** Scope of the decision and of the action key. The default value is `user`. */
  scope?: DecisionScope;
  /** `credential.ref` this tool uses. The default value is the run's. */
  credentialRef?: string;
  /** Record raw arguments and result on the audit span. The default value is the hooks' (false). */
  captureContent?: boolean;
  /** Compliance fields of this tool's calls. */
  compliance?: ComplianceFields;
  /**
   * The side effect this tool has (e.g. `{ operation: 'refund', targetSystem: 'payments' }`):
   * a call the gate refuses then records `side_effect.blocked`.
   */
  sideEffect?: { operation: string; targetSystem: string };
}

/** Options of {@link auditTools}: set-wide defaults, and per-tool overrides under `tools`. */
export interface AuditToolsOptions extends AuditToolOptions {
  /** Per-tool overrides, keyed by the tool's name in the tool set. */
  tools?: Record<string, AuditToolOptions>;
}

/** The part of the AI SDK's `ToolExecutionOptions` (ai@6 and ai@7) this package reads. */
interface ExecutionOptions {
  toolCallId: string;
}

type Execute = (input: unknown, options: ExecutionOptions) => unknown;

/** The part of an AI SDK tool this package reads. */
interface ToolLike {
  description?: unknown;
  execute?: unknown;
}

const KNOWN_OPTIONS = new Set([
  'toolVersion',
  'reason',
  'policy',
  'scope',
  'credentialRef',
  'captureContent',
  'compliance',
  'sideEffect',
  'tools',
]);

/**
 * Returns a copy of an AI SDK tool set (`ai@6` or `ai@7`) in which every tool's `execute` runs
 * as an audited tool call through `traceToolCall`: the `execute_tool {name}` span of the active
 * run, `gen_ai.tool.call.id` = the AI SDK's `toolCallId` (the id the model issued, also listed
 * on the model call's span by `auditModel`), `input.hash` of the parsed input, `output.hash` of
 * the result, and the policy gate's pre- and post-exec records (the tool's `policy`, else the
 * process-wide one of `registerAgentAudit({ policy })`, else recorded as `decision.policy =
 * none`).
 *
 * A refusal (policy `stop`, `approval_required`, a fail-closed store, strict mode without a
 * run) is thrown by `execute` as the `ToolCallRefusedError` before the tool body runs; the AI
 * SDK turns a thrown `execute` error into a `tool-error` part, which the model sees as the
 * tool's error result in the next step. Tools without `execute` (client-side tools) are kept
 * unchanged. The given tool set is not modified.
 */
export function auditTools<TOOLS extends Record<string, unknown>>(
  tools: TOOLS,
  options: AuditToolsOptions = {},
): TOOLS {
  validate(tools, options);
  const out: Record<string, unknown> = {};
  for (const [name, tool] of Object.entries(tools)) {
    out[name] = wrapTool(name, tool as ToolLike, { ...options, ...options.tools?.[name] });
  }
  return out as TOOLS;
}

function wrapTool(name: string, tool: ToolLike, o: AuditToolOptions): unknown {
  if (tool === null || typeof tool !== 'object' || typeof tool.execute !== 'function') return tool;
  const execute = tool.execute as Execute;
  const description = typeof tool.description === 'string' ? tool.description : undefined;
  const traceOptions = (input: unknown, execOptions: ExecutionOptions) => ({
    toolName: name,
    toolVersion: o.toolVersion,
    description,
    callId: typeof execOptions?.toolCallId === 'string' ? execOptions.toolCallId : undefined,
    input,
    reason: o.reason,
    policy: o.policy,
    scope: o.scope,
    credentialRef: o.credentialRef,
    captureContent: o.captureContent,
    compliance: o.compliance,
    sideEffect: o.sideEffect,
  });
  if (isAsyncGeneratorFunction(execute)) {
    // A streaming tool (preliminary results, then the final one): the AI SDK needs an async
    // iterable back synchronously, so the audited call collects the values and replays them.
    // `output.hash` is the final value's, the one the AI SDK keeps as the tool result.
    const audited = async function* (this: unknown, input: unknown, execOptions: ExecutionOptions) {
      const values: unknown[] = [];
      await traceToolCall(traceOptions(input, execOptions), async () => {
        const iterable = execute.call(this ?? tool, input, execOptions) as AsyncIterable<unknown>;
        for await (const value of iterable) values.push(value);
        return values[values.length - 1];
      });
      yield* values;
    };
    return { ...tool, execute: audited };
  }
  const audited: Execute = function (this: unknown, input, execOptions) {
    return traceToolCall(traceOptions(input, execOptions), () =>
      execute.call(this ?? tool, input, execOptions),
    );
  };
  return { ...tool, execute: audited };
}

function isAsyncGeneratorFunction(fn: Execute): boolean {
  return Object.prototype.toString.call(fn) === '[object AsyncGeneratorFunction]';
}

function validate(tools: unknown, options: unknown): void {
  if (tools === null || typeof tools !== 'object' || Array.isArray(tools)) {
    throw configurationError(
      'tools',
      'an AI SDK tool set (an object of tools)',
      Array.isArray(tools) ? 'array' : tools === null ? 'null' : typeof tools,
    );
  }
  if (options === null || typeof options !== 'object') {
    throw configurationError('options', 'an object', options === null ? 'null' : typeof options);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw configurationError(`options.${key}`, `one of ${[...KNOWN_OPTIONS].join(', ')}`, key);
    }
  }
  const perTool = (options as AuditToolsOptions).tools;
  if (perTool !== undefined && (perTool === null || typeof perTool !== 'object')) {
    throw configurationError('options.tools', 'an object keyed by tool name', typeof perTool);
  }
  for (const name of Object.keys(perTool ?? {})) {
    if (!(name in tools)) {
      throw configurationError(
        `options.tools.${name}`,
        `the name of a tool in the set (${Object.keys(tools).join(', ')})`,
        name,
      );
    }
  }
}
