import {
  ATTR_AGENT_ID,
  ATTR_DECISION_OUTCOME,
  ATTR_DECISION_POLICY,
  ATTR_DECISION_REASON,
  ATTR_GEN_AI_AGENT_ID,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_INPUT_SHAPE,
  ATTR_INPUT_SIGNALS,
  ATTR_INPUT_SIZE,
  ATTR_OUTPUT_SIZE,
  ATTR_PERMISSION_DENIAL_TYPE,
  ATTR_PERMISSION_DENIED,
  ATTR_TENANT_ID,
  ATTR_TOOL_NAME,
  ATTR_TRIGGER_PRINCIPAL,
  ATTR_WORKFLOW_RUN_ID,
} from '@agent-audit/instrumentation/attributes';
import { describe, expect, it } from 'vitest';
import { NAMES } from '../src/feature-names.js';

describe('feature names', () => {
  it('are the instrumentation attribute names (the watcher repeats them without importing OpenTelemetry)', () => {
    expect(NAMES).toEqual({
      operation: ATTR_GEN_AI_OPERATION_NAME,
      runId: ATTR_WORKFLOW_RUN_ID,
      agentId: ATTR_AGENT_ID,
      genAiAgentId: ATTR_GEN_AI_AGENT_ID,
      tool: ATTR_TOOL_NAME,
      genAiTool: ATTR_GEN_AI_TOOL_NAME,
      tenant: ATTR_TENANT_ID,
      principal: ATTR_TRIGGER_PRINCIPAL,
      decision: ATTR_DECISION_OUTCOME,
      decisionReason: ATTR_DECISION_REASON,
      decisionPolicy: ATTR_DECISION_POLICY,
      inputSize: ATTR_INPUT_SIZE,
      outputSize: ATTR_OUTPUT_SIZE,
      inputShape: ATTR_INPUT_SHAPE,
      inputSignals: ATTR_INPUT_SIGNALS,
      permissionDenied: ATTR_PERMISSION_DENIED,
      permissionDenialType: ATTR_PERMISSION_DENIAL_TYPE,
    });
  });
});
