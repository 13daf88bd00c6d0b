import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JaegerInstance, REPO_ROOT, startJaeger } from '../../../test/support/jaeger.js';
import type { FoundSpan } from '../../../test/support/jaeger-query.js';

// issue 11 §4: `pnpm demo:mcp` — an agent and an MCP server in two processes over stdio. One
// trace in a real Jaeger across both, the same workflow.run_id, every tool call with the four
// mandatory attributes; the trail over both stores lists client and server spans; both verify.

const run = promisify(execFile);
const DEMO = join(REPO_ROOT, 'examples/mcp/dist/main.js');
const CLI = join(REPO_ROOT, 'packages/cli/dist/bin.js');
const MANDATORY = ['agent.id', 'workflow.run_id', 'credential.ref', 'input.hash'];
const SERVICES = ['mcp-demo-agent', 'mcp-demo-helpdesk-server'];

async function cli(args: string[], env: NodeJS.ProcessEnv) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('pnpm demo:mcp against a real Jaeger', () => {
  let jaeger: JaegerInstance;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let out = '';
  let runId = '';
  const stores = () => [join(work, '.agent-audit'), join(work, '.agent-audit-mcp-server')];

  beforeAll(async () => {
    jaeger = await startJaeger();
    work = mkdtempSync(join(tmpdir(), 'agent-audit-demo-mcp-'));
    env = {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpUrl,
      AGENT_AUDIT_TRUST_DIR: join(work, '.agent-audit-trust'),
    };
    delete env.AGENT_AUDIT_STORE_DIR;
    ({ stdout: out } = await run(process.execPath, [DEMO], { cwd: work, env }));
    runId = /^workflow\.run_id=(\S+)$/m.exec(out)?.[1] ?? '';
  });

  afterAll(async () => {
    await jaeger?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('prints the run id on a line of its own, the refusal, and the trail of both stores', () => {
    expect(runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(out).toContain('close_customer_account → refused: ');
    expect(out).toMatch(/\(\d+ spans from the 2 stores\)/);
  });

  it('is one trace in Jaeger across both processes, every tool call carrying the four fields', async () => {
    const found: FoundSpan[] = [];
    for (const service of SERVICES) {
      const spans = await jaeger.waitForSpans(
        { service, tags: { 'workflow.run_id': runId } },
        (s) => s.some((x) => x.serviceName === service),
        { diagnostics: () => jaeger.logTail() },
      );
      found.push(...spans);
    }
    const spans = [...new Map(found.map((s) => [s.spanId, s])).values()];
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
    expect(new Set(spans.map((s) => s.serviceName))).toEqual(new Set(SERVICES));
    const tools = spans.filter((s) => s.tags['gen_ai.operation.name'] === 'execute_tool');
    // agent: lookup_order, issue_refund, close_customer_account (stopped); server: the two
    // that were allowed.
    expect(tools.map((s) => `${s.serviceName} ${s.tags['tool.name']}`).sort()).toEqual([
      'mcp-demo-agent close_customer_account',
      'mcp-demo-agent issue_refund',
      'mcp-demo-agent lookup_order',
      'mcp-demo-helpdesk-server issue_refund',
      'mcp-demo-helpdesk-server lookup_order',
    ]);
    for (const span of tools) {
      for (const name of MANDATORY)
        expect(span.tags[name], `${span.operationName} ${name}`).toBeTruthy();
      expect(span.tags['workflow.run_id']).toBe(runId);
      expect(span.tags['mcp.method.name']).toBe('tools/call');
      expect(span.tags['network.transport']).toBe('pipe');
      // A decision record on every tool call: the agent's policy, or none on the server.
      expect(span.tags['decision.outcome'], span.operationName).toBeTruthy();
    }
    const stopped = tools.find((s) => s.tags['tool.name'] === 'close_customer_account')!;
    expect(stopped.tags['decision.outcome']).toBe('stop');
    // The refused call declared its side effect: it is recorded as blocked.
    const events = stopped.raw.logs.map((l) => l.fields.find((f) => f.key === 'event')?.value);
    expect(events).toContain('side_effect.blocked');
    for (const span of tools.filter((s) => s.serviceName === SERVICES[1])) {
      expect(span.tags['decision.policy']).toBe('none');
    }
    // Each server run is a child of the agent's tool call that made the request.
    for (const serverTool of tools.filter((s) => s.serviceName === SERVICES[1])) {
      const serverRun = spans.find((s) => s.spanId === serverTool.parentSpanId)!;
      const clientCall = spans.find((s) => s.spanId === serverRun.parentSpanId)!;
      expect(clientCall.serviceName).toBe(SERVICES[0]);
      expect(clientCall.tags['tool.name']).toBe(serverTool.tags['tool.name']);
    }
  });

  it('lists the client and server spans in the trail over both stores, and both stores verify', async () => {
    const args = ['trail', runId, '--json', ...stores().flatMap((s) => ['--store', s])];
    const result = await cli(args, env);
    expect(result.code, result.stderr).toBe(0);
    const spans = (
      JSON.parse(result.stdout) as { spans: { service: string; tool: string | null }[] }
    ).spans;
    expect(
      spans
        .filter((s) => s.tool === 'lookup_order')
        .map((s) => s.service)
        .sort(),
    ).toEqual(SERVICES);
    for (const store of stores()) {
      const verified = await cli(['verify', '--store', store], env);
      expect(verified.code, `${store}: ${verified.stdout}${verified.stderr}`).toBe(0);
    }
  });
});
