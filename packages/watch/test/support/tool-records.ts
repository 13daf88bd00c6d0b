import { randomBytes } from 'node:crypto';
import type { AppendEntry } from '@agent-audit/store';

/** One ended tool call as the SDK records it, with the features of issue 14 §1. */
export interface CallSpec {
  runId: string;
  agent?: string;
  tool?: string;
  tenant?: string;
  /** End time, ms since the epoch. */
  atMs: number;
  durationMs?: number;
  inputShape?: string;
  signals?: string[];
  inputSize?: number;
  outputSize?: number;
  denialType?: string;
  decision?: string;
  reason?: string;
}

type AnyValue =
  | { stringValue: string }
  | { intValue: string }
  | { boolValue: boolean }
  | { arrayValue: { values: AnyValue[] } };

function v(value: string | number | boolean | string[]): AnyValue {
  if (Array.isArray(value))
    return { arrayValue: { values: value.map((s) => ({ stringValue: s })) } };
  if (typeof value === 'number') return { intValue: String(value) };
  if (typeof value === 'boolean') return { boolValue: value };
  return { stringValue: value };
}

/** The `span.end` record of an `execute_tool` span (OTLP/JSON, one span), with its tags. */
export function toolCallEntry(spec: CallSpec): AppendEntry {
  const agent = spec.agent ?? 'support-agent';
  const tool = spec.tool ?? 'lookup_order';
  const endNs = BigInt(Math.round(spec.atMs * 1000)) * 1000n;
  const startNs = endNs - BigInt(Math.round((spec.durationMs ?? 5) * 1_000_000));
  const attrs: Record<string, string | number | boolean | string[]> = {
    'gen_ai.operation.name': 'execute_tool',
    'workflow.run_id': spec.runId,
    'agent.id': agent,
    'tool.name': tool,
    'tenant.id': spec.tenant ?? 'acme',
    'decision.outcome': spec.decision ?? 'allow',
    'input.size': spec.inputSize ?? 40,
    'input.shape': spec.inputShape ?? 'shape:order',
  };
  if (spec.reason) attrs['decision.reason'] = spec.reason;
  if (spec.outputSize !== undefined || spec.decision !== 'stop')
    attrs['output.size'] = spec.outputSize ?? 300;
  if (spec.signals?.length) attrs['input.signals'] = spec.signals;
  if (spec.denialType) {
    attrs['permission.denied'] = true;
    attrs['permission.denial_type'] = spec.denialType;
  }
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  const error = spec.denialType !== undefined || spec.decision === 'stop';
  return {
    type: 'span.end',
    tags: {
      trace: traceId,
      span: spanId,
      run: spec.runId,
      agent,
      tool,
      tenant: spec.tenant ?? 'acme',
      status: error ? 'error' : 'ok',
    },
    payload: {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'test' } }] },
          scopeSpans: [
            {
              scope: { name: '@agent-audit/instrumentation' },
              spans: [
                {
                  traceId,
                  spanId,
                  name: `execute_tool ${tool}`,
                  kind: 1,
                  startTimeUnixNano: startNs.toString(),
                  endTimeUnixNano: endNs.toString(),
                  attributes: Object.entries(attrs).map(([key, value]) => ({
                    key,
                    value: v(value),
                  })),
                  status: { code: error ? 2 : 1 },
                },
              ],
            },
          ],
        },
      ],
    },
  };
}

/**
 * Normal traffic: `runs` runs of `callsPerRun` calls each, one run every `spacingMs`, from
 * `startMs`; sizes and durations vary deterministically within a normal band.
 */
export function normalCalls(
  startMs: number,
  runs: number,
  callsPerRun = 3,
  spacingMs = 1000,
  prefix = 'run-n',
): CallSpec[] {
  const out: CallSpec[] = [];
  for (let r = 0; r < runs; r++) {
    for (let c = 0; c < callsPerRun; c++) {
      const k = r * callsPerRun + c;
      out.push({
        runId: `${prefix}${r}`,
        atMs: startMs + r * spacingMs + c * 10,
        durationMs: 4 + (k % 7),
        outputSize: 250 + ((k * 37) % 150),
      });
    }
  }
  return out;
}

/**
 * One planted anomaly per pattern, after `atMs`, each in its own run (id `planted-<pattern>`).
 */
export function plantedCalls(atMs: number): { calls: CallSpec[]; runs: Record<string, string> } {
  const runs = {
    call_frequency: 'planted-call-frequency',
    new_input_shape: 'planted-new-input-shape',
    permission_denials: 'planted-permission-denials',
    output_size: 'planted-output-size',
    execution_time: 'planted-execution-time',
    policy: 'planted-policy',
  };
  const calls: CallSpec[] = [];
  for (let i = 0; i < 300; i++) calls.push({ runId: runs.call_frequency, atMs: atMs + i * 2 });
  calls.push({
    runId: runs.new_input_shape,
    atMs: atMs + 2000,
    inputShape: 'shape:never-seen',
    signals: ['sql_injection'],
  });
  for (let i = 0; i < 5; i++)
    calls.push({ runId: runs.permission_denials, atMs: atMs + 3000 + i, denialType: 'filesystem' });
  calls.push({ runId: runs.output_size, atMs: atMs + 4000, outputSize: 5_000_000 });
  calls.push({ runId: runs.execution_time, atMs: atMs + 5000, durationMs: 30_000 });
  calls.push({
    runId: runs.policy,
    atMs: atMs + 6000,
    decision: 'stop',
    reason: 'refund above limit',
  });
  return { calls, runs };
}
