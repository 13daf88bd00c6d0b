import {
  type DecisionScope,
  getAuditHooks,
  getRunContext,
  type PolicyHook,
  type TraceToolCallOptions,
  traceToolCall,
} from '@agent-audit/instrumentation';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Attributes, Span } from '@opentelemetry/api';
import { diag, SpanStatusCode } from '@opentelemetry/api';
import { injectMeta } from './meta-context.js';
import { recordRead } from './record-read.js';
import { invalidOption, isRefusal, refusalResult } from './refusal.js';
import {
  ATTR_ERROR_TYPE,
  ATTR_JSONRPC_REQUEST_ID,
  ATTR_MCP_METHOD_NAME,
  ATTR_MCP_PROTOCOL_VERSION,
  ATTR_MCP_SESSION_ID,
  ATTR_NETWORK_TRANSPORT,
  ATTR_RPC_RESPONSE_STATUS_CODE,
  ERROR_TYPE_VALUE_TOOL_ERROR,
  MCP_METHOD_PROMPTS_GET,
  MCP_METHOD_RESOURCES_READ,
  MCP_METHOD_TOOLS_CALL,
} from './semconv.js';

export interface AuditMcpClientOptions {
  /**
   * Decides every `tools/call` of this client before it is sent. The default value is the
   * process-wide policy (`registerAgentAudit({ policy })`), else none (recorded as
   * `decision.policy=none`).
   */
  policy?: PolicyHook;
  /** Scope of the decision and the action key. The default value is `user`. */
  scope?: DecisionScope;
  /**
   * How a refused call (policy `stop`, `approval_required`, no run in strict mode, audit not
   * durable) reaches the caller of `callTool`: `'result'` returns an MCP tool error result
   * (`{ isError: true, content: [{ type: 'text', text }] , _meta: { 'dev.agent-audit/refusal':
   * { code, toolName, approvalId? } } }`) that the model sees like any tool error; `'throw'`
   * rethrows the `ToolCallRefusedError` (`PolicyStopError`, `ApprovalRequiredError` with
   * `.request`, …). Either way the request is never sent. The default value is `'result'`.
   */
  refusal?: 'result' | 'throw';
  /** `credential.ref` of the calls. The default value is the run's. */
  credentialRef?: string;
  /**
   * Record raw tool arguments and results on the spans. The default value is the hooks'
   * `captureContent` (false): hashes only.
   */
  captureContent?: boolean;
  /**
   * The side effect a tool call would have, by tool name and arguments (undefined: none). A
   * refused call that has one records `side_effect.blocked` with it.
   */
  sideEffect?: (
    toolName: string,
    args: unknown,
  ) => { operation: string; targetSystem: string } | undefined;
  /**
   * `network.transport`. The default value is worked out from the transport: `pipe` for
   * stdio, `tcp` for Streamable HTTP / SSE / WebSocket, none for in-memory.
   */
  networkTransport?: string;
}

type McpRequest = { method: string; params?: Record<string, unknown> };
type RequestFn = (request: McpRequest, schema: unknown, options?: unknown) => Promise<unknown>;
interface ClientInternals {
  request: RequestFn;
  transport?: { sessionId?: string; protocolVersion?: string; constructor?: { name?: string } };
  _requestMessageId?: number;
}

const audited = new WeakSet<object>();
const log = diag.createComponentLogger({ namespace: '@agent-audit/mcp' });

/**
 * Makes every `tools/call` of `client` an audited tool call (`execute_tool {name}` through
 * `traceToolCall`: the four mandatory attributes, the policy gate, pre- and post-exec records)
 * with the MCP attributes, and records each `resources/read` and `prompts/get` as a span with
 * hashes of the request and of what came back. Every request carries the W3C trace context
 * and only the run's allow-listed baggage (run id, principal) in `params._meta`.
 *
 * Call it once, before or after `connect` (before, `mcp.protocol.version` is known for stdio
 * too). Returns the same client. A second call does nothing.
 */
export function auditMcpClient<C extends Client>(
  client: C,
  options: AuditMcpClientOptions = {},
): C {
  validate(client, options);
  const c = client as unknown as ClientInternals;
  if (audited.has(client)) return client;
  audited.add(client);
  const original = c.request;
  const state: { protocolVersion?: string } = {};

  const mcpAttributes = (method: string): Attributes => {
    const a: Attributes = { [ATTR_MCP_METHOD_NAME]: method };
    const t = c.transport;
    const session = t?.sessionId;
    if (typeof session === 'string') a[ATTR_MCP_SESSION_ID] = session;
    const version = state.protocolVersion ?? t?.protocolVersion;
    if (typeof version === 'string') a[ATTR_MCP_PROTOCOL_VERSION] = version;
    const transport = options.networkTransport ?? transportOf(t?.constructor?.name);
    if (transport !== undefined) a[ATTR_NETWORK_TRANSPORT] = transport;
    return a;
  };

  /** Sends `request` with the trace context in `_meta`; notes the JSON-RPC id on `span`. */
  const send = (request: McpRequest, schema: unknown, opts: unknown, span: Span | undefined) => {
    const params = request.params ?? {};
    const meta: Record<string, unknown> = isObject(params._meta) ? { ...params._meta } : {};
    try {
      injectMeta(meta);
    } catch (err) {
      // Telemetry never breaks the call it observes: the request goes without trace context.
      log.error('auditMcpClient: writing the trace context into _meta failed', err);
    }
    const before = c._requestMessageId;
    // Nothing to carry and no params: the request goes out exactly as the caller made it.
    const unchanged = request.params === undefined && Object.keys(meta).length === 0;
    const sent = unchanged
      ? original.call(client, request, schema, opts)
      : original.call(client, { ...request, params: { ...params, _meta: meta } }, schema, opts);
    // The SDK numbers requests synchronously; the id is only recorded when it was seen.
    if (span !== undefined && typeof before === 'number' && c._requestMessageId === before + 1) {
      span.setAttribute(ATTR_JSONRPC_REQUEST_ID, String(before));
    }
    return sent;
  };

  const callTool = async (request: McpRequest, schema: unknown, opts: unknown) => {
    const params = request.params ?? {};
    const toolName = typeof params.name === 'string' ? params.name : String(params.name);
    const attributes = mcpAttributes(MCP_METHOD_TOOLS_CALL);
    const callOptions: TraceToolCallOptions = {
      toolName,
      toolType: 'extension',
      input: params.arguments ?? {},
      attributes,
    };
    if (options.policy !== undefined) callOptions.policy = options.policy;
    if (options.scope !== undefined) callOptions.scope = options.scope;
    if (options.credentialRef !== undefined) callOptions.credentialRef = options.credentialRef;
    if (options.captureContent !== undefined) callOptions.captureContent = options.captureContent;
    const sideEffect = options.sideEffect?.(toolName, params.arguments);
    if (sideEffect !== undefined) callOptions.sideEffect = sideEffect;
    try {
      return await traceToolCall(callOptions, async (call) => {
        let result: unknown;
        try {
          result = await send(request, schema, opts, call.span);
        } catch (err) {
          const code = (err as { code?: unknown } | null)?.code;
          if (typeof code === 'number')
            call.span.setAttribute(ATTR_RPC_RESPONSE_STATUS_CODE, String(code));
          throw err;
        }
        if (isObject(result) && result.isError === true) {
          call.span.setAttribute(ATTR_ERROR_TYPE, ERROR_TYPE_VALUE_TOOL_ERROR);
          call.span.setStatus({ code: SpanStatusCode.ERROR, message: 'the tool returned isError' });
        }
        return result;
      });
    } catch (err) {
      if (isRefusal(err) && options.refusal !== 'throw') return refusalResult(err);
      throw err;
    }
  };

  c.request = function auditedRequest(request: McpRequest, schema: unknown, opts?: unknown) {
    const method = request?.method;
    if (method === MCP_METHOD_TOOLS_CALL) return callTool(request, schema, opts);
    if (method === MCP_METHOD_RESOURCES_READ || method === MCP_METHOD_PROMPTS_GET) {
      return recordRead(
        method,
        request.params ?? {},
        mcpAttributes(method),
        readHashKey(),
        (span) => send(request, schema, opts, span),
      );
    }
    if (method === 'initialize') {
      return original.call(client, request, schema, opts).then((result) => {
        const v = isObject(result) ? result.protocolVersion : undefined;
        if (typeof v === 'string') state.protocolVersion = v;
        return result;
      });
    }
    return send(request, schema, opts, undefined);
  };
  return client;
}

function readHashKey() {
  try {
    const k = getAuditHooks().hashKey;
    return typeof k === 'function' ? k(getRunContext()) : k;
  } catch {
    return undefined;
  }
}

function transportOf(name: string | undefined): string | undefined {
  if (name === 'StdioClientTransport') return 'pipe';
  if (
    name === 'StreamableHTTPClientTransport' ||
    name === 'SSEClientTransport' ||
    name === 'WebSocketClientTransport'
  ) {
    return 'tcp';
  }
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validate(client: unknown, options: AuditMcpClientOptions): void {
  if (!isObject(client) || typeof (client as { request?: unknown }).request !== 'function') {
    throw invalidOption('client', 'an MCP SDK Client', client);
  }
  if (!isObject(options)) throw invalidOption('options', 'an object', options);
  for (const name of ['policy', 'sideEffect'] as const) {
    const v = options[name];
    if (v !== undefined && typeof v !== 'function') throw invalidOption(name, 'a function', v);
  }
  if (
    options.refusal !== undefined &&
    options.refusal !== 'result' &&
    options.refusal !== 'throw'
  ) {
    throw invalidOption('refusal', "'result' or 'throw'", options.refusal);
  }
  for (const name of ['credentialRef', 'networkTransport', 'scope'] as const) {
    const v = options[name];
    if (v !== undefined && typeof v !== 'string') throw invalidOption(name, 'a string', v);
  }
  if (options.captureContent !== undefined && typeof options.captureContent !== 'boolean') {
    throw invalidOption('captureContent', 'a boolean', options.captureContent);
  }
}
