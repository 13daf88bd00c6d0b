/*
 * OpenTelemetry GenAI semantic-convention names this package reads, copied (not imported from
 * `@opentelemetry/semantic-conventions/incubating`, whose names may break in minor releases, nor
 * from `@agent-audit/instrumentation`, which keeps its copies private) from
 * @opentelemetry/semantic-conventions 1.45.0 = semantic conventions v1.41.0, the version the
 * instrumentation writes. The GenAI conventions have Development status.
 */

export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT = 'invoke_agent';
export const GEN_AI_OPERATION_NAME_VALUE_INVOKE_WORKFLOW = 'invoke_workflow';
export const GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL = 'execute_tool';
export const ATTR_GEN_AI_TOOL_NAME = 'gen_ai.tool.name';
