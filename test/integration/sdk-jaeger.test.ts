import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { injectRunContext, runWorkflow, traceToolCall } from '@agent-audit/instrumentation';
import { type AgentAuditHandle, registerAgentAudit } from '@agent-audit/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JaegerInstance, REPO_ROOT, startJaeger } from '../support/jaeger.js';
import { type FoundSpan, flattenSpans } from '../support/jaeger-query.js';

// issue 2: an audited run goes from registration through the store and the forwarder to a real
// Jaeger, and is found there by workflow.run_id with the four mandatory attributes on every
// workflow and tool span, in one trace across two processes.

const MANDATORY = ['agent.id', 'workflow.run_id', 'credential.ref', 'input.hash'];
const AUDITED_OPS = new Set(['invoke_agent', 'invoke_workflow', 'execute_tool']);
const REGISTER = pathToFileURL(join(REPO_ROOT, 'packages/sdk/dist/register.js')).href;
const SUB_AGENT = join(REPO_ROOT, 'test/integration/fixtures/sdk-sub-agent.mjs');

function isAudited(span: FoundSpan): boolean {
  return AUDITED_OPS.has(String(span.tags['gen_ai.operation.name']));
}

function expectMandatory(span: FoundSpan, runId: string): void {
  for (const name of MANDATORY) {
    expect(
      span.tags[name],
      `${span.serviceName} "${span.operationName}" lacks ${name}`,
    ).toBeTruthy();
  }
  expect(span.tags['workflow.run_id']).toBe(runId);
  expect(
    span.tags['audit.violation'],
    `${span.operationName} marked as a violation`,
  ).toBeUndefined();
}

interface SubAgent {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startSubAgent(env: Record<string, string>): Promise<SubAgent> {
  const child = spawn(process.execPath, ['--import', REGISTER, SUB_AGENT], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => {
    out += c;
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (c: string) => {
      out += c;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`sub-agent exited early (code ${code}, signal ${signal}):\n${out}`)),
    );
  });
  return { child, url: `http://127.0.0.1:${port}/`, output: () => out, exited };
}

describe('SDK → store → forwarder → real Jaeger', () => {
  let jaeger: JaegerInstance;
  let root: string;
  let audit: AgentAuditHandle;
  const service = `sdk-orchestrator-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    jaeger = await startJaeger({ storage: 'memory' });
    root = mkdtempSync(join(tmpdir(), 'aa-sdk-jaeger-'));
    audit = registerAgentAudit({
      serviceName: service,
      storeDir: join(root, 'orchestrator-store'),
      trustDir: join(root, 'orchestrator-trust'),
      otlpEndpoint: jaeger.otlpTracesUrl,
      installExitHandlers: false,
    });
  });

  afterAll(async () => {
    await audit?.shutdown();
    await jaeger?.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('finds a run with tool calls by workflow.run_id, every workflow and tool span complete', async () => {
    const runId = await runWorkflow(
      {
        agentId: 'support-agent',
        agentName: 'Support',
        triggerPrincipal: 'user:456',
        triggerType: 'human',
        credentialRef: 'cred-ref:run-token-1',
        input: { ticket: 1001 },
      },
      async (run) => {
        await traceToolCall({ toolName: 'search_kb', input: { q: 'refund policy' } }, async () => [
          'kb-1',
        ]);
        await traceToolCall(
          {
            toolName: 'db_write',
            input: { table: 'tickets', id: 1001 },
            credentialRef: 'cred-ref:db',
          },
          async () => ({ updated: 1 }),
        );
        await traceToolCall(
          { toolName: 'send_email', input: { to: 'customer-1001' } },
          () => 'queued',
        );
        return run.runId;
      },
    );
    // Other runs in the same service must not come back under this run id.
    await runWorkflow(
      { agentId: 'support-agent', credentialRef: 'cred-ref:other', input: { ticket: 2 } },
      () => traceToolCall({ toolName: 'search_kb', input: { q: 'other' } }, () => []),
    );
    await audit.forceFlush();

    const spans = await jaeger.waitForSpans(
      { service, tags: { 'workflow.run_id': runId } },
      (found) => found.length >= 4,
    );
    expect(spans).toHaveLength(4);
    expect(spans.map((s) => s.operationName).sort()).toEqual([
      'execute_tool db_write',
      'execute_tool search_kb',
      'execute_tool send_email',
      'invoke_agent Support',
    ]);
    for (const span of spans) expectMandatory(span, runId);
    const root = spans.find((s) => s.operationName === 'invoke_agent Support')!;
    for (const tool of spans.filter((s) => s !== root)) expect(tool.parentSpanId).toBe(root.spanId);
    expect(
      spans.find((s) => s.operationName === 'execute_tool db_write')!.tags['credential.ref'],
    ).toBe('cred-ref:db');
    expect(root.tags['trigger.principal']).toBe('user:456');

    // The store holds the same spans: Jaeger is fed from it, never around it.
    const status = await audit.forwarder!.status();
    expect(status.pendingRecords).toBe(0);
    expect(status.lastError).toBeUndefined();
  });

  it('continues one trace and one run id in a sub-agent process; its outgoing HTTP carries the run', async () => {
    const webhookHeaders: IncomingHttpHeaders[] = [];
    const webhook: Server = createServer((req, res) => {
      webhookHeaders.push(req.headers);
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    webhook.listen(0, '127.0.0.1');
    await once(webhook, 'listening');
    const webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`;

    const subService = `sdk-sub-agent-${randomUUID().slice(0, 8)}`;
    const sub = await startSubAgent({
      OTEL_SERVICE_NAME: subService,
      AGENT_AUDIT_STORE_DIR: join(root, 'sub-store'),
      AGENT_AUDIT_TRUST_DIR: join(root, 'sub-trust'),
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: jaeger.otlpTracesUrl,
    });
    try {
      let reply: { runId: string; webhookStatus: number } | undefined;
      const runId = await runWorkflow(
        {
          agentId: 'orchestrator',
          agentName: 'Orchestrator',
          triggerPrincipal: 'user:789',
          credentialRef: 'cred-ref:orchestrator',
          input: { ticket: 77 },
        },
        async (run) => {
          await traceToolCall({ toolName: 'plan', input: { ticket: 77 } }, () => 'delegate');
          reply = await traceToolCall(
            { toolName: 'delegate_to_sub_agent', input: { orderId: 77 } },
            async () => {
              const res = await fetch(sub.url, {
                method: 'POST',
                headers: injectRunContext({ 'content-type': 'application/json' }),
                body: JSON.stringify({ orderId: 77, webhook: webhookUrl }),
              });
              const text = await res.text();
              if (!res.ok) throw new Error(`sub-agent answered ${res.status}: ${text}`);
              return JSON.parse(text) as { runId: string; webhookStatus: number };
            },
          );
          return run.runId;
        },
      );
      expect(reply).toMatchObject({ runId, webhookStatus: 204 });

      // The sub-agent's own outgoing call carried the run (W3C baggage) and the trace.
      expect(webhookHeaders).toHaveLength(1);
      const headers = webhookHeaders[0]!;
      expect(decodeURIComponent(String(headers.baggage))).toContain(`workflow.run_id=${runId}`);
      expect(decodeURIComponent(String(headers.baggage))).toContain('trigger.principal=user:789');

      await audit.forceFlush();
      // SIGTERM: the SDK's handler flushes, forwards what it can, closes the store, re-raises.
      sub.child.kill('SIGTERM');
      const exit = await sub.exited;
      expect(exit.signal, sub.output()).toBe('SIGTERM');

      const parentSpans = await jaeger.waitForSpans(
        { service, tags: { 'workflow.run_id': runId } },
        (found) => found.length >= 3,
      );
      const traceId = parentSpans[0]!.traceId;
      expect(headers.traceparent).toContain(traceId);
      let all: FoundSpan[] = [];
      const deadline = Date.now() + 30_000;
      for (;;) {
        const trace = await jaeger.getTrace(traceId);
        all = trace ? flattenSpans([trace]) : [];
        if (all.length >= 7 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const byService = (s: string) => all.filter((span) => span.serviceName === s);
      expect(
        byService(service)
          .map((s) => s.operationName)
          .sort(),
      ).toEqual([
        'execute_tool delegate_to_sub_agent',
        'execute_tool plan',
        'invoke_agent Orchestrator',
      ]);
      const subSpans = byService(subService);
      expect(subSpans.map((s) => s.operationName).sort()).toEqual([
        'POST',
        'execute_tool lookup_order',
        'execute_tool notify_webhook',
        'invoke_agent SubAgent',
      ]);
      // One trace, one run id, in both processes; the sub-agent's run hangs under the tool call
      // that delegated to it.
      for (const span of all) {
        expect(span.traceId).toBe(traceId);
        expect(span.tags['workflow.run_id'], `${span.serviceName} ${span.operationName}`).toBe(
          runId,
        );
        if (isAudited(span)) expectMandatory(span, runId);
      }
      const delegate = all.find((s) => s.operationName === 'execute_tool delegate_to_sub_agent')!;
      const subRoot = subSpans.find((s) => s.operationName === 'invoke_agent SubAgent')!;
      expect(subRoot.parentSpanId).toBe(delegate.spanId);
      expect(subRoot.tags['trigger.principal']).toBe('user:789');
      // The auto-instrumented HTTP client span was stamped by the processor too.
      const post = subSpans.find((s) => s.operationName === 'POST')!;
      expect(post.tags['trigger.principal']).toBe('user:789');
      expect(post.tags['agent.id']).toBe('sub-agent');
    } finally {
      if (sub.child.exitCode === null && sub.child.signalCode === null) sub.child.kill('SIGKILL');
      webhook.close();
    }
  });
});
