/**
 * The span attribute names the watcher reads. They are the instrumentation's names
 * (`@agent-audit/instrumentation/attributes`), repeated here because this package has no
 * OpenTelemetry dependency; `test/feature-names.test.ts` checks that both agree.
 */
export const NAMES = {
  operation: 'gen_ai.operation.name',
  runId: 'workflow.run_id',
  agentId: 'agent.id',
  genAiAgentId: 'gen_ai.agent.id',
  tool: 'tool.name',
  genAiTool: 'gen_ai.tool.name',
  tenant: 'tenant.id',
  principal: 'trigger.principal',
  decision: 'decision.outcome',
  decisionReason: 'decision.reason',
  decisionPolicy: 'decision.policy',
  inputSize: 'input.size',
  outputSize: 'output.size',
  inputShape: 'input.shape',
  inputSignals: 'input.signals',
  permissionDenied: 'permission.denied',
  permissionDenialType: 'permission.denial_type',
} as const;

/** `gen_ai.operation.name` of a tool call span. */
export const EXECUTE_TOOL = 'execute_tool';
