import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JaegerInstance, REPO_ROOT, startJaeger } from '../../../test/support/jaeger.js';

// issue 11, "done when": after `pnpm demo:ai-sdk` a user finds every tool call of the run in a
// real Jaeger with the four attributes and a decision, the AI SDK's own spans beside them
// without their raw content, and the same spans in the store's trail.

const run = promisify(execFile);
const DEMO = join(REPO_ROOT, 'examples/ai-sdk/dist/main.js');
const CLI = join(REPO_ROOT, 'packages/cli/dist/bin.js');
const SERVICE = 'ai-sdk-refund-agent';
const MANDATORY = ['agent.id', 'workflow.run_id', 'credential.ref', 'input.hash'];

describe('pnpm demo:ai-sdk against a real Jaeger', () => {
  let jaeger: JaegerInstance;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let stdout = '';
  let runId = '';

  beforeAll(async () => {
    jaeger = await startJaeger();
    work = mkdtempSync(join(tmpdir(), 'agent-audit-ai-sdk-jaeger-'));
    env = {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpUrl,
      AGENT_AUDIT_STORE_DIR: join(work, '.agent-audit'),
      AGENT_AUDIT_TRUST_DIR: join(work, '.agent-audit-trust'),
      JAEGER_UI_URL: jaeger.queryUrl,
    };
    ({ stdout } = await run(process.execPath, [DEMO], { cwd: work, env }));
    runId = /^workflow\.run_id=(\S+)$/m.exec(stdout)?.[1] ?? '';
  });
  afterAll(async () => {
    await jaeger?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('prints the Jaeger URL of the run', () => {
    expect(stdout).toContain(`Jaeger: ${jaeger.queryUrl}/search?service=${SERVICE}`);
  });

  it('holds every tool call with the four attributes and a decision, and the same spans as the trail', async () => {
    const spans = await jaeger.waitForSpans(
      { service: SERVICE, tags: { 'workflow.run_id': runId } },
      (s) => s.filter((x) => x.tags['gen_ai.operation.name'] === 'execute_tool').length >= 4,
      { diagnostics: () => jaeger.logTail() },
    );
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
    const tools = spans.filter((s) => s.tags['gen_ai.operation.name'] === 'execute_tool');
    expect(tools.map((s) => s.tags['tool.name']).sort()).toEqual([
      'issueRefund',
      'lookupCustomer',
      'lookupOrder',
      'notifyCustomer',
    ]);
    for (const span of tools) {
      for (const name of MANDATORY)
        expect(span.tags[name], `${span.operationName} ${name}`).toBeTruthy();
      expect(span.tags['decision.outcome']).toMatch(/^(allow|approval_required)$/);
    }
    expect(spans.filter((s) => s.operationName === 'ai.toolCall')).toHaveLength(4);
    for (const span of spans) {
      expect(span.tags['ai.toolCall.args'], span.operationName).toBeUndefined();
      expect(span.tags['ai.prompt.messages'], span.operationName).toBeUndefined();
    }
    const trail = await run(
      process.execPath,
      [CLI, 'trail', runId, '--json', '--store', join(work, '.agent-audit')],
      { env },
    );
    const fromStore = (JSON.parse(trail.stdout) as { spans: { span_id: string }[] }).spans.map(
      (s) => s.span_id,
    );
    expect(new Set(spans.map((s) => s.spanId))).toEqual(new Set(fromStore));
  });
});
