import { execFile } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JaegerInstance, REPO_ROOT, startJaeger } from '../../../test/support/jaeger.js';
import type { FoundSpan } from '../../../test/support/jaeger-query.js';

// issue 2, "done when": the README demo's run is found in a real Jaeger by run id, with every
// mandatory attribute on every workflow and tool span across two processes; the CLI's trail
// lists the same spans from the stores; verify exits 0, and non-zero once a byte is changed.

const run = promisify(execFile);
const DEMO = join(REPO_ROOT, 'examples/quickstart/dist/main.js');
const CLI = join(REPO_ROOT, 'packages/cli/dist/bin.js');
const MANDATORY = ['agent.id', 'workflow.run_id', 'credential.ref', 'input.hash'];
const SERVICES = ['quickstart-orchestrator', 'quickstart-drafting-agent'];

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Flips the low bit of the byte at `offset`: a one-byte change an editor would not show. */
function flipByte(file: string, offset: number): void {
  const fd = openSync(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, offset);
    byte[0] = byte[0]! ^ 0x01;
    writeSync(fd, byte, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

describe('pnpm demo against a real Jaeger', () => {
  let jaeger: JaegerInstance;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let demoOut = '';
  let runId = '';

  beforeAll(async () => {
    jaeger = await startJaeger();
    work = mkdtempSync(join(tmpdir(), 'agent-audit-demo-'));
    env = {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpUrl,
      AGENT_AUDIT_STORE_DIR: join(work, '.agent-audit'),
      AGENT_AUDIT_TRUST_DIR: join(work, '.agent-audit-trust'),
      JAEGER_UI_URL: jaeger.queryUrl,
    };
    const { stdout } = await run(process.execPath, [DEMO], { cwd: work, env });
    demoOut = stdout;
    runId = /^workflow\.run_id=(\S+)$/m.exec(stdout)?.[1] ?? '';
  });

  afterAll(async () => {
    await jaeger?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('prints the run id on a line of its own and the Jaeger URL of the run', () => {
    expect(runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(demoOut).toContain(`Jaeger: ${jaeger.queryUrl}/search?`);
    expect(demoOut).not.toContain('was not reachable');
  });

  it('is one trace in Jaeger across both processes, every audited span carrying the four fields', async () => {
    const found: FoundSpan[] = [];
    for (const service of SERVICES) {
      const spans = await jaeger.waitForSpans(
        { service, tags: { 'workflow.run_id': runId } },
        (s) => s.some((x) => x.serviceName === service),
        { diagnostics: () => jaeger.logTail() },
      );
      found.push(...spans.filter((s) => s.serviceName === service));
    }
    const unique = new Map(found.map((s) => [s.spanId, s]));
    const spans = [...unique.values()];
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
    expect(new Set(spans.map((s) => s.serviceName))).toEqual(new Set(SERVICES));
    const audited = spans.filter((s) =>
      ['invoke_agent', 'invoke_workflow', 'execute_tool'].includes(
        String(s.tags['gen_ai.operation.name']),
      ),
    );
    // orchestrator: run + 7 tool spans (search, update, refund refused then approved, the
    // stopped account closure, delegate, send); sub-agent: run + 2 tools
    expect(audited.length).toBe(11);
    for (const span of audited) {
      for (const name of MANDATORY) {
        expect(span.tags[name], `${span.operationName} lacks ${name}`).toBeTruthy();
      }
      expect(span.tags['workflow.run_id']).toBe(runId);
    }
  });

  it("lists the same spans in the stores' trail as Jaeger holds", async () => {
    const ids = new Set<string>();
    // The gateway's store too: Jaeger holds the whole trace, the gateway's call included.
    for (const store of ['.agent-audit', '.agent-audit-drafting-agent', '.agent-audit-gateway']) {
      const result = await cli(['trail', runId, '--json', '--store', join(work, store)], env);
      expect(result.code, result.stderr).toBe(0);
      const parsed = JSON.parse(result.stdout) as { spans: { span_id: string }[] };
      for (const span of parsed.spans) ids.add(span.span_id);
    }
    const inJaeger = new Set<string>();
    for (const service of SERVICES) {
      const traces = await jaeger.findTraces({ service, tags: { 'workflow.run_id': runId } });
      for (const trace of traces) for (const span of trace.spans) inJaeger.add(span.spanID);
    }
    expect([...ids].sort()).toEqual([...inJaeger].sort());
  });

  it("answers the six questions and the auditor's question with one command each", async () => {
    const stores = [
      '--store',
      join(work, '.agent-audit'),
      '--store',
      join(work, '.agent-audit-drafting-agent'),
    ];
    const explained = await cli(['explain', runId, '--json', ...stores], env);
    expect(explained.code, explained.stderr).toBe(0);
    const x = JSON.parse(explained.stdout);
    // 1. trigger and accountability
    expect(x.trigger.principal).toBe('user:456');
    expect(x.trigger.trigger_type).toBe('human');
    // 2. agents, model, LLM call, credential issued for the run
    expect(x.context.agents.map((a: { agent_id: string }) => a.agent_id).sort()).toEqual([
      'drafting-agent',
      'support-agent',
    ]);
    expect(x.context.llm_calls[0]).toMatchObject({
      model: 'scripted-planner-1',
      input_tokens: 412,
    });
    expect(JSON.stringify(x.context.credentials)).toContain(x.trigger.credential_ref);
    // 3. actions in order, with credentials
    const tools = x.actions.map((a: { tool: string }) => a.tool);
    expect(tools.indexOf('search_knowledge_base')).toBeLessThan(tools.indexOf('send_email'));
    expect(tools).toContain('lookup_customer_history');
    // 4. checks: the stop and the approval_required, with their reasons
    const outcomes = x.checks.map(
      (c: { tool: string; outcome: string }) => `${c.tool}:${c.outcome}`,
    );
    expect(outcomes).toContain('close_customer_account:stop');
    expect(outcomes).toContain('issue_refund:approval_required');
    // 5. the named human's approval, with the edit
    expect(x.approvals).toContainEqual(
      expect.objectContaining({
        approver: 'user:jane.doe',
        decision: 'approved',
        edits: ['amount'],
      }),
    );
    // 6. side effects with receipts
    expect(x.side_effects).toContainEqual(
      expect.objectContaining({
        target_system: 'sqlite:helpdesk.refunds',
        operation: 'insert',
        idempotency_key: 'refund:order-5521',
        status: 'applied',
      }),
    );
    // the auditor's question: every run on behalf of user:456 in the last 90 days
    const runs = await cli(
      ['runs', '--json', '--principal', 'user:456', '--since', '90d', ...stores],
      env,
    );
    expect(runs.code, runs.stderr).toBe(0);
    const listed = JSON.parse(runs.stdout) as Array<{ run_id: string; status: string }>;
    expect(listed.map((r) => r.run_id)).toContain(runId);
    // One status for the run everywhere (store's runStatus): the workflow span's. The stop and
    // the approval inside are the tool calls' own error status, not the run's.
    expect(listed.find((r) => r.run_id === runId)?.status).toBe(x.trigger.status);
    expect(x.trigger.status).toBe('ok');
    // and a page a reviewer opens without Jaeger
    const page = join(work, 'report.html');
    const report = await cli(['report', runId, '--html', page, ...stores], env);
    expect(report.code, report.stderr).toBe(0);
    const html = readFileSync(page, 'utf8');
    expect(html).toContain(runId);
    expect(html).toContain('user:jane.doe');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href="http/);
  });

  it('records every event type of the run lifecycle, and explain shows the new ones', async () => {
    // The stores' raw bytes: every event name appears in some span.end record.
    const bytes = ['.agent-audit', '.agent-audit-drafting-agent']
      .flatMap((store) =>
        readdirSync(join(work, store, 'segments')).map((f) =>
          readFileSync(join(work, store, 'segments', f), 'utf8'),
        ),
      )
      .join('\n');
    for (const name of [
      'run.created',
      'input.resolved',
      'retrieval.completed',
      'decision.proposed',
      'policy.decision',
      'validation.passed',
      'validation.failed',
      'approval.requested',
      'approval.granted',
      'tool.called',
      'side_effect.applied',
      'side_effect.blocked',
      'credential.issued',
      'policy.changed',
      'run.completed',
    ]) {
      expect(bytes, name).toContain(`"name":"${name}"`);
    }
    const stores = [
      '--store',
      join(work, '.agent-audit'),
      '--store',
      join(work, '.agent-audit-drafting-agent'),
    ];
    const x = JSON.parse((await cli(['explain', runId, '--json', ...stores], env)).stdout);
    expect(
      x.context.inputs_resolved.flatMap((r: { sources: { ref: string }[] }) =>
        r.sources.map((s) => s.ref),
      ),
    ).toContain('helpdesk:ticket/T-1042');
    const checks = x.checks.map(
      (c: { policy: string; outcome: string }) => `${c.policy}:${c.outcome}`,
    );
    expect(checks).toContain('refund:within-monthly-price:failed');
    expect(checks).toContain('reply:no-internal-notes:passed');
    // The sub-agent's calls have no policy: counted as ungoverned, not invisible.
    expect(checks).toContain('none:allow');
    expect(x.side_effects).toContainEqual(
      expect.objectContaining({ tool: 'close_customer_account', status: 'blocked' }),
    );
  });

  it('keeps the run token out of every file and output: only its public reference is there', () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else files.push(path);
      }
    };
    for (const dir of [
      '.agent-audit',
      '.agent-audit-drafting-agent',
      '.agent-audit-gateway',
      '.agent-audit-trust',
      '.agent-audit-demo',
    ]) {
      walk(join(work, dir));
    }
    expect(files.length).toBeGreaterThan(3);
    let references = 0;
    for (const file of files) {
      if (file.endsWith('.pem') || file.endsWith('.db')) continue;
      const text = readFileSync(file, 'latin1');
      // A run token is `aat1.<claims>.<signature>`; the helpdesk API key is `hk_<48 hex>`.
      expect(text, file).not.toMatch(/aat1\.[A-Za-z0-9_-]{20,}/);
      expect(text, file).not.toMatch(/hk_[0-9a-f]{48}/);
      if (/aat_[a-z2-7]{26}/.test(text)) references++;
    }
    expect(demoOut).not.toMatch(/aat1\.|hk_[0-9a-f]{48}/);
    // The scan reads what the run wrote: the token's reference is there, the token is not.
    expect(references).toBeGreaterThan(0);
  });

  it("calls the helpdesk API through the gateway with the run token, and whois maps the API's access log back to the run", async () => {
    const accessLog = readFileSync(
      join(work, '.agent-audit-demo/helpdesk-api/helpdesk-api-access.log'),
      'utf8',
    );
    // The upstream saw the call, authorized with the real key the gateway swapped in (200).
    const line = accessLog.split('\n').find((l) => l.includes('GET /kb/search'));
    expect(line).toMatch(/ 200 credential_ref=aat_[a-z2-7]{26}$/);
    const ref = /credential_ref=(aat_[a-z2-7]{26})/.exec(line!)![1]!;
    expect(demoOut).toContain(`whois ${ref}`);
    const stores = [
      '--store',
      join(work, '.agent-audit'),
      '--store',
      join(work, '.agent-audit-drafting-agent'),
      '--store',
      join(work, '.agent-audit-gateway'),
    ];
    const whois = await cli(['whois', ref, '--json', ...stores], env);
    expect(whois.code, whois.stderr).toBe(0);
    const w = JSON.parse(whois.stdout);
    expect(JSON.stringify(w)).toContain(runId);
    expect(JSON.stringify(w)).toContain('user:456');
    expect(JSON.stringify(w)).toContain('helpdesk:kb:read');
    // The issue event names the signing key id, not mistaken for a secret by the redaction.
    expect(JSON.stringify(w)).toMatch(/agent-audit key k_[a-z2-7]{16}/);
    expect(JSON.stringify(w)).not.toContain('[REDACTED');
    // The gateway recorded the call in the run's trace, in its own store, verified.
    const trail = await cli(['trail', runId, '--json', ...stores], env);
    expect(trail.code, trail.stderr).toBe(0);
    const spans = (
      JSON.parse(trail.stdout) as {
        spans: {
          tool: string | null;
          trace_id: string;
          credential_ref: string | null;
          attributes: Record<string, unknown>;
        }[];
      }
    ).spans;
    const viaGateway = spans.find((s) => s.tool === 'http:helpdesk');
    expect(viaGateway).toBeDefined();
    expect(viaGateway!.credential_ref).toBe(ref);
    expect(viaGateway!.attributes['run_context.status']).toBe('verified');
    expect(viaGateway!.attributes['decision.outcome']).toBe('allow');
    expect(new Set(spans.map((s) => s.trace_id)).size).toBe(1);
  });

  it("adopts the orchestrator's signed run context in the sub-agent, and records a forged one as claimed", async () => {
    const stores = [
      '--store',
      join(work, '.agent-audit'),
      '--store',
      join(work, '.agent-audit-drafting-agent'),
    ];
    const trail = await cli(
      ['trail', runId, '--json', '--store', join(work, '.agent-audit-drafting-agent')],
      env,
    );
    expect(trail.code, trail.stderr).toBe(0);
    const subSpans = (
      JSON.parse(trail.stdout) as { spans: { attributes: Record<string, unknown> }[] }
    ).spans;
    expect(subSpans.length).toBe(3);
    for (const span of subSpans) {
      expect(span.attributes['run_context.status']).toBe('verified');
      expect(span.attributes['trigger.principal']).toBe('user:456');
    }
    // The adversary's request: this run's id with principal user:mallory, unsigned.
    const forgedRunId = /recorded as claimed, not adopted, in run (\S+):$/m.exec(demoOut)?.[1];
    expect(forgedRunId).toBeDefined();
    expect(forgedRunId).not.toBe(runId);
    const explained = await cli(['explain', forgedRunId!, ...stores], env);
    expect(explained.code, explained.stderr).toBe(0);
    expect(explained.stdout).toContain(
      `claimed:     user:mallory for run ${runId} by a remote caller — NOT adopted (unsigned)`,
    );
    const x = JSON.parse((await cli(['explain', forgedRunId!, '--json', ...stores], env)).stdout);
    expect(x.trigger.principal).toBeNull();
    expect(x.trigger.claimed).toEqual({
      run_id: runId,
      principal: 'user:mallory',
      reason: 'unsigned',
    });
    // The real run is untouched: its principal, and no run is attributed to the forger.
    const real = JSON.parse((await cli(['explain', runId, '--json', ...stores], env)).stdout);
    expect(real.trigger.principal).toBe('user:456');
    expect(real.trigger.claimed).toBeNull();
    const mallory = await cli(['runs', '--json', '--principal', 'user:mallory', ...stores], env);
    expect(mallory.code, mallory.stderr).toBe(0);
    expect(JSON.parse(mallory.stdout)).toEqual([]);
  });

  it('verifies both stores, and fails verification once one byte of a segment changes', async () => {
    const trust = join(work, '.agent-audit-trust');
    for (const store of ['.agent-audit', '.agent-audit-drafting-agent']) {
      const result = await cli(['verify', '--store', join(work, store)], {
        ...env,
        AGENT_AUDIT_TRUST_DIR: trust,
      });
      expect(result.code, `${store}: ${result.stdout}${result.stderr}`).toBe(0);
    }
    const segments = join(work, '.agent-audit', 'segments');
    const first = readdirSync(segments)
      .filter((f) => f.endsWith('.jsonl'))
      .sort()[0];
    expect(first).toBeDefined();
    flipByte(join(segments, first!), 200);
    const tampered = await cli(['verify', '--json', '--store', join(work, '.agent-audit')], env);
    expect(tampered.code, tampered.stdout).toBe(1);
    const report = JSON.parse(tampered.stdout) as { problems: { code: string }[] };
    expect(report.problems.length).toBeGreaterThan(0);
  });
});
