import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWorkflow, subjectRef, traceToolCall } from '@agent-audit/instrumentation';
import { type AgentAuditHandle, registerAgentAudit } from '@agent-audit/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeCollector, startFakeCollector } from '../support/fake-collector.js';

// Issue 13 §4: data subjects are recorded as keyed references (subj:…), never as the
// identifiers. Every file of the store and every byte the OTLP endpoint receives is scanned;
// the CLI finds the runs by identifier (with the trust directory's subject key) or reference.

const CLI = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

function cli(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    execFile(process.execPath, [CLI, ...args], { env: childEnv }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? -1) : 0, stdout, stderr });
    });
  });
}

describe('data.subjects as keyed references, end to end', () => {
  let root: string;
  let fake: FakeCollector;
  let audit: AgentAuditHandle;
  let env: Record<string, string>;
  const alice = `alice.${'subject'}@example.com`;
  const customer = `customer:${'q7w9'}-981z`;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'aa-subjects-'));
    fake = await startFakeCollector();
    env = {
      AGENT_AUDIT_STORE_DIR: join(root, 'store'),
      AGENT_AUDIT_TRUST_DIR: join(root, 'trust'),
    };
    audit = registerAgentAudit({
      serviceName: 'subjects-agent',
      storeDir: env.AGENT_AUDIT_STORE_DIR,
      trustDir: env.AGENT_AUDIT_TRUST_DIR,
      otlpEndpoint: fake.tracesUrl,
      installExitHandlers: false,
    });
  });
  afterAll(async () => {
    await audit?.shutdown();
    await fake?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('the identifiers reach neither the store nor the OTLP endpoint; runs --subject and explain find them by reference', async () => {
    let runId = '';
    await runWorkflow(
      {
        agentId: 'subjects-agent',
        triggerPrincipal: 'user:ops',
        input: 1,
        compliance: { dataSubjects: [alice] },
      },
      async (run) => {
        runId = run.runId;
        await traceToolCall(
          { toolName: 'crm.update', input: { n: 1 }, compliance: { dataSubjects: [customer] } },
          () => 1,
        );
      },
    );
    await runWorkflow({ agentId: 'subjects-agent', triggerPrincipal: 'user:ops', input: 2 }, () =>
      traceToolCall({ toolName: 'noop', input: 1 }, () => 1),
    );
    await audit.forceFlush();
    const drained = await audit.forwarder!.drain({ timeoutMillis: 30_000 });
    expect(drained.ok).toBe(true);

    const key = JSON.parse(readFileSync(join(root, 'trust', 'subject-key.json'), 'utf8'));
    const keyed = { id: key.id, secret: Buffer.from(key.secret, 'base64') };
    const refs = [subjectRef(alice, keyed), subjectRef(customer, keyed)];
    const storeBytes = filesUnder(join(root, 'store'))
      .map((f) => readFileSync(f).toString('latin1'))
      .join('\n');
    const sentBytes = fake.requests.map((r) => r.body.toString('latin1')).join('\n');
    for (const [where, bytes] of [
      ['store', storeBytes],
      ['OTLP payloads', sentBytes],
    ] as const) {
      expect(bytes.includes(alice), `identifier in ${where}`).toBe(false);
      expect(bytes.includes(customer), `identifier in ${where}`).toBe(false);
      // The distinctive part alone (a short number could occur by chance in hashes and ids).
      expect(bytes.includes('q7w9-981z'), `identifier fragment in ${where}`).toBe(false);
      for (const ref of refs) expect(bytes, where).toContain(ref);
    }

    // By identifier (the CLI makes the reference with the same key) and by reference.
    for (const subject of [customer, refs[1]!, alice]) {
      const r = await cli(['runs', '--subject', subject, '--json'], env);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).map((row: { run_id: string }) => row.run_id)).toEqual([runId]);
    }
    const none = await cli(['runs', '--subject', 'customer:q7w9-982z', '--json'], env);
    expect(JSON.parse(none.stdout)).toEqual([]);
    const explained = await cli(['explain', runId], env);
    expect(explained.stdout).toMatch(new RegExp(`subjects: +.*${refs[0]}`));
    expect(explained.stdout).toContain(refs[1]);
    expect(explained.stdout).not.toContain(alice);

    // Without the subject key: a clear error naming the file, no guess.
    const elsewhere = await cli(['runs', '--subject', customer], {
      ...env,
      AGENT_AUDIT_TRUST_DIR: join(root, 'other-trust'),
    });
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toMatch(/no subject key at .*other-trust\/subject-key\.json/);
  });
});
