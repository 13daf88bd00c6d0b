/*
 * The OpenTelemetry MCP semantic-convention names (GenAI conventions, status Development),
 * copied as constants so that a renamed convention is one edit here.
 * https://opentelemetry.io/docs/specs/semconv/gen-ai/mcp/
 */
export const ATTR_MCP_METHOD_NAME = 'mcp.method.name';
export const ATTR_MCP_SESSION_ID = 'mcp.session.id';
export const ATTR_MCP_PROTOCOL_VERSION = 'mcp.protocol.version';
export const ATTR_MCP_RESOURCE_URI = 'mcp.resource.uri';
export const ATTR_JSONRPC_REQUEST_ID = 'jsonrpc.request.id';
export const ATTR_RPC_RESPONSE_STATUS_CODE = 'rpc.response.status_code';
export const ATTR_NETWORK_TRANSPORT = 'network.transport';
export const ATTR_NETWORK_PROTOCOL_NAME = 'network.protocol.name';
export const ATTR_GEN_AI_PROMPT_NAME = 'gen_ai.prompt.name';
export const ATTR_GEN_AI_TOOL_NAME = 'gen_ai.tool.name';
export const ATTR_ERROR_TYPE = 'error.type';
/** `error.type` of a `CallToolResult` with `isError: true`. */
export const ERROR_TYPE_VALUE_TOOL_ERROR = 'tool_error';

export const MCP_METHOD_TOOLS_CALL = 'tools/call';
export const MCP_METHOD_RESOURCES_READ = 'resources/read';
export const MCP_METHOD_PROMPTS_GET = 'prompts/get';
