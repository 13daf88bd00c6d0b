import {
  type DecisionScope,
  credentialRef as makeCredentialRef,
  type PolicyHook,
  runWorkflow,
  type TraceToolCallOptions,
  traceToolCall,
} from '@agent-audit/instrumentation';
import {
  ATTR_AUDIT_VIOLATION,
  ATTR_AUTH_CLIENT_ID,
  ATTR_CREDENTIAL_SCOPES,
  ATTR_RUN_CONTEXT_CLAIM_REASON,
  ATTR_RUN_CONTEXT_CLAIMED_PRINCIPAL,
  ATTR_RUN_CONTEXT_STATUS,
  ATTR_TRACE_CONTEXT_ERROR,
} from '@agent-audit/instrumentation/attributes';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { type Attributes, context, SpanStatusCode } from '@opentelemetry/api';
import { type ExtractedMeta, extractMeta } from './meta-context.js';
import { invalidOption, isRefusal, refusalResult } from './refusal.js';
import {
  ATTR_ERROR_TYPE,
  ATTR_JSONRPC_REQUEST_ID,
  ATTR_MCP_METHOD_NAME,
  ATTR_MCP_PROTOCOL_VERSION,
  ATTR_MCP_SESSION_ID,
  ATTR_NETWORK_TRANSPORT,
  ERROR_TYPE_VALUE_TOOL_ERROR,
  MCP_METHOD_TOOLS_CALL,
} from './semconv.js';

export interface AuditMcpServerOptions {
  /** `agent.id` of the server's runs. The default value is `mcp-server:<server name>`. */
  agentId?: string;
  /** `agent.name`. The default value is the server's name (its `serverInfo.name`). */
  agentName?: string;
  /** `agent.version`. The default value is the server's `serverInfo.version`. */
  agentVersion?: string;
  /**
   * `credential.ref` of the calls: a string, or a function of the request's `authInfo`
   * (returning undefined falls back to the default). The default value is a keyed reference of the bearer token (`credentialRef(token)`, needs the
   * hooks' `hashKey`), else none (reported as missing). The token itself is never recorded.
   */
  credentialRef?: string | ((authInfo: AuthInfo | undefined) => string | undefined);
  /** Decides every call before the handler runs; the default value is the process-wide policy. */
  policy?: PolicyHook;
  /** Scope of the decision and the action key. The default value is `user`. */
  scope?: DecisionScope;
  /** Record raw arguments and results. The default value is the hooks' `captureContent`. */
  captureContent?: boolean;
}

type Extra = {
  _meta?: unknown;
  authInfo?: AuthInfo;
  sessionId?: string;
  requestId?: string | number;
  requestInfo?: { headers?: Record<string, string | string[] | undefined> };
};
type ExecuteFn = (tool: object, args: unknown, extra: Extra) => Promise<unknown>;
interface ServerInternals {
  executeToolHandler: ExecuteFn;
  _registeredTools: Record<string, object>;
  server: {
    _serverInfo?: { name?: string; version?: string };
    transport?: { constructor?: { name?: string } };
  };
}

const audited = new WeakSet<object>();

/**
 * Makes every tool handler of `server` (registered before or after this call) an audited
 * tool call in this process's store: it continues the caller's trace and run from the
 * request's `params._meta`, runs inside a run of this server (`invoke_agent`, the same
 * `workflow.run_id`), passes the policy gate, and records the authenticated client
 * (`auth.client_id`, `credential.scopes`; never the token). A principal in the caller's
 * baggage is recorded as claimed (`run_context.claimed_principal`), never adopted, unless it
 * came in a signed run context this process verified (`configureRunContextTrust`). Malformed or oversized
 * trace context is recorded (`audit.violation`, `trace_context.error`) and dropped. A refused
 * call returns an MCP tool error result; the handler never runs. Returns the same server.
 */
export function auditMcpServer<S extends McpServer>(
  server: S,
  options: AuditMcpServerOptions = {},
): S {
  validate(server, options);
  if (audited.has(server)) return server;
  audited.add(server);
  const s = server as unknown as ServerInternals;
  const original = s.executeToolHandler;
  const names = new WeakMap<object, string>();

  const toolNameOf = (tool: object): string => {
    const cached = names.get(tool);
    if (cached !== undefined && s._registeredTools[cached] === tool) return cached;
    for (const [name, t] of Object.entries(s._registeredTools)) {
      if (t === tool) {
        names.set(tool, name);
        return name;
      }
    }
    return 'unknown';
  };

  s.executeToolHandler = async function auditedExecuteToolHandler(tool, args, extra) {
    const toolName = toolNameOf(tool);
    const meta: ExtractedMeta = extractMeta(extra?._meta);
    const info = s.server._serverInfo;
    const attributes = mcpAttributes(extra, s.server.transport?.constructor?.name);
    const auth = authAttributes(extra?.authInfo);
    const findings = findingAttributes(meta);
    const credentialRef = resolveCredentialRef(options.credentialRef, extra?.authInfo);
    return context.with(meta.ctx, () =>
      runWorkflow(
        {
          agentId: options.agentId ?? `mcp-server:${info?.name ?? 'unnamed'}`,
          ...optional('agentName', options.agentName ?? info?.name),
          ...optional('agentVersion', options.agentVersion ?? info?.version),
          ...optional('credentialRef', credentialRef),
          input: args ?? {},
        },
        async (run) => {
          run.span.setAttributes({ ...auth, ...findings });
          // Start attributes of the tool span (its pre-exec record, kept on a refusal too);
          // names the instrumentation reserves (audit.*, trigger.*, credential.*) are set on
          // the run span above and on the tool span once it runs.
          const start: Attributes = { ...attributes };
          const clientId = auth[ATTR_AUTH_CLIENT_ID];
          if (clientId !== undefined) start[ATTR_AUTH_CLIENT_ID] = clientId;
          const errors = findings[ATTR_TRACE_CONTEXT_ERROR];
          if (errors !== undefined) start[ATTR_TRACE_CONTEXT_ERROR] = errors;
          const callOptions: TraceToolCallOptions = {
            toolName,
            input: args ?? {},
            attributes: start,
          };
          if (options.policy !== undefined) callOptions.policy = options.policy;
          if (options.scope !== undefined) callOptions.scope = options.scope;
          if (options.captureContent !== undefined)
            callOptions.captureContent = options.captureContent;
          try {
            return await traceToolCall(callOptions, async (call) => {
              call.span.setAttributes({ ...auth, ...findings });
              const result = await original.call(server, tool, args, extra);
              if (isObject(result) && result.isError === true) {
                call.span.setAttribute(ATTR_ERROR_TYPE, ERROR_TYPE_VALUE_TOOL_ERROR);
                call.span.setStatus({
                  code: SpanStatusCode.ERROR,
                  message: 'the tool returned isError',
                });
              }
              return result;
            });
          } catch (err) {
            if (isRefusal(err)) return refusalResult(err);
            throw err;
          }
        },
      ),
    );
  };
  return server;
}

function mcpAttributes(extra: Extra | undefined, transportName: string | undefined): Attributes {
  const a: Attributes = { [ATTR_MCP_METHOD_NAME]: MCP_METHOD_TOOLS_CALL };
  if (typeof extra?.sessionId === 'string') a[ATTR_MCP_SESSION_ID] = extra.sessionId;
  const id = extra?.requestId;
  if (typeof id === 'string' || typeof id === 'number') a[ATTR_JSONRPC_REQUEST_ID] = String(id);
  const headers = extra?.requestInfo?.headers;
  if (headers !== undefined) {
    a[ATTR_NETWORK_TRANSPORT] = 'tcp';
    const v = headers['mcp-protocol-version'];
    if (typeof v === 'string') a[ATTR_MCP_PROTOCOL_VERSION] = v;
  } else if (transportName === 'StdioServerTransport') {
    a[ATTR_NETWORK_TRANSPORT] = 'pipe';
  }
  return a;
}

function authAttributes(authInfo: AuthInfo | undefined): Attributes {
  const a: Attributes = {};
  if (authInfo === undefined) return a;
  if (typeof authInfo.clientId === 'string') a[ATTR_AUTH_CLIENT_ID] = authInfo.clientId;
  if (Array.isArray(authInfo.scopes)) {
    a[ATTR_CREDENTIAL_SCOPES] = authInfo.scopes.filter((x) => typeof x === 'string');
  }
  return a;
}

function findingAttributes(meta: ExtractedMeta): Attributes {
  const a: Attributes = {};
  if (meta.claimedPrincipal !== undefined) {
    // The same names as an unverified signed context: explain shows it as claimed.
    a[ATTR_RUN_CONTEXT_STATUS] = 'claimed';
    a[ATTR_RUN_CONTEXT_CLAIMED_PRINCIPAL] = meta.claimedPrincipal;
    a[ATTR_RUN_CONTEXT_CLAIM_REASON] = 'unsigned';
  }
  if (meta.violations.length > 0) {
    a[ATTR_AUDIT_VIOLATION] = [...meta.violations];
    a[ATTR_TRACE_CONTEXT_ERROR] = [...meta.errors];
  }
  return a;
}

function resolveCredentialRef(
  option: AuditMcpServerOptions['credentialRef'],
  authInfo: AuthInfo | undefined,
): string | undefined {
  try {
    if (typeof option === 'string') return option;
    const chosen = typeof option === 'function' ? option(authInfo) : undefined;
    if (chosen !== undefined) return chosen;
    const token = authInfo?.token;
    return typeof token === 'string' && token !== ''
      ? makeCredentialRef(token, { prefix: 'mcp-token' })
      : undefined;
  } catch {
    // No hash key: the reference is reported missing rather than made from an unkeyed hash.
    return undefined;
  }
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validate(server: unknown, options: AuditMcpServerOptions): void {
  const s = server as Partial<ServerInternals> | null;
  if (!isObject(s) || typeof s.executeToolHandler !== 'function' || !isObject(s._registeredTools)) {
    throw invalidOption('server', 'an MCP SDK McpServer (1.x)', server);
  }
  if (!isObject(options)) throw invalidOption('options', 'an object', options);
  for (const name of ['agentId', 'agentName', 'agentVersion', 'scope'] as const) {
    const v = options[name];
    if (v !== undefined && typeof v !== 'string') throw invalidOption(name, 'a string', v);
  }
  const ref = options.credentialRef;
  if (ref !== undefined && typeof ref !== 'string' && typeof ref !== 'function') {
    throw invalidOption('credentialRef', 'a string or a function', ref);
  }
  if (options.policy !== undefined && typeof options.policy !== 'function') {
    throw invalidOption('policy', 'a function', options.policy);
  }
  if (options.captureContent !== undefined && typeof options.captureContent !== 'boolean') {
    throw invalidOption('captureContent', 'a boolean', options.captureContent);
  }
}
