import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AppendEntry, AuditStore } from '@agent-audit/store';
import { openStoreReader } from '@agent-audit/store/query';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findCredentialUse } from '../src/credential-usage.js';
import type { StoreReader } from '../src/store-access.js';
import { startConsole, waitForIndex } from './support/console-process.js';
import { type SpanSpec, spanEndPayload, spanStartPayload } from './support/otlp-fixtures.js';
import { runCli } from './support/run-cli.js';
import { writeStore } from './support/write-store.js';

// `whois` and `runs --credential` find a credential's runs through the store's index (issue
// 13 §1), and answer exactly what reading every run answers, in two stores (an agent's and a
// gateway's), for credentials spans used and credentials `credential.issued` events issued.

const Database = createRequire(new URL('../../store/package.json', import.meta.url))(
  'better-sqlite3',
) as new (
  file: string,
) => { exec(sql: string): void; close(): void };

const root = mkdtempSync(join(tmpdir(), 'cli-credential-index-'));
const agent = join(root, 'agent');
const gateway = join(root, 'gateway');
const trust = join(root, 'trust');
const env = { AGENT_AUDIT_TRUST_DIR: trust };
const stores = ['--store', agent, '--store', gateway];

const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);

/** Run w issues `aat_iss_w` (root span event); its tool call uses `aat_shared_(w % 3)`. */
function credentialRun(w: number): { own: AppendEntry[]; gateway: AppendEntry[] } {
  const runId = `run-cred-${w}`;
  const traceId = `${w + 1}`.padStart(32, 'c');
  const tags = { run: runId, trace: traceId, agent: 'billing-agent', principal: `user:${w}` };
  const attrs = { 'workflow.run_id': runId, 'agent.id': 'billing-agent' };
  const rootSpan: SpanSpec = {
    traceId,
    spanId: `${w + 1}`.padStart(16, 'a'),
    name: 'invoke_agent billing',
    startMs: T0 + w * 1000,
    endMs: T0 + w * 1000 + 500,
    attributes: { ...attrs, 'trigger.principal': `user:${w}` },
    events: [
      {
        name: 'credential.issued',
        atMs: T0 + w * 1000 + 1,
        attributes: {
          'credential.ref': `aat_iss_${w}`,
          'credential.issuer': 'vault',
          'credential.scopes': ['refunds:write'],
        },
      },
    ],
  };
  const tool: SpanSpec = {
    traceId,
    spanId: `${w + 1}`.padStart(16, 'b'),
    parentSpanId: rootSpan.spanId,
    name: 'execute_tool refund',
    startMs: T0 + w * 1000 + 100,
    endMs: T0 + w * 1000 + 200,
    attributes: {
      ...attrs,
      'gen_ai.operation.name': 'execute_tool',
      'tool.name': 'refund',
      'credential.ref': `aat_shared_${w % 3}`,
      'decision.outcome': 'allow',
    },
  };
  // The gateway's own span of the same call, in its own store.
  const gw: SpanSpec = {
    ...tool,
    spanId: `${w + 1}`.padStart(16, 'd'),
    parentSpanId: tool.spanId,
    name: 'execute_tool POST /refunds',
    service: 'gateway',
  };
  const entries = (s: SpanSpec, extra: Record<string, string>): AppendEntry[] => [
    {
      type: 'span.start',
      tags: { ...tags, span: s.spanId, ...extra },
      payload: spanStartPayload(s),
    },
    {
      type: 'span.end',
      tags: { ...tags, span: s.spanId, status: 'ok', ...extra },
      payload: spanEndPayload(s),
    },
  ];
  return {
    own: [...entries(rootSpan, {}), ...entries(tool, { tool: 'refund' })],
    gateway: w % 2 === 0 ? entries(gw, { tool: 'refund' }) : [],
  };
}

const RUNS = 7;
const REFS = [
  'aat_iss_0',
  'aat_iss_3',
  'aat_iss_6',
  'aat_shared_0',
  'aat_shared_1',
  'aat_shared_2',
  'cred:run-token-1',
  'cred:db-writer',
  'aat_nobody',
];

async function append(dir: string, entries: AppendEntry[]): Promise<void> {
  const store = AuditStore.open({ dir, trustDir: trust });
  await store.appendBatch(entries);
  await store.close();
}

/** The answer by reading every run of every store (what `whois` did before the index). */
function fullScan(ref: string) {
  const readers = [agent, gateway].map((path) => {
    const reader = openStoreReader(path, { index: false });
    const everyRun: StoreReader = {
      ...reader,
      credentialRuns: () => reader.listRuns({}).map((r) => r.run_id),
    };
    return { location: { shown: path, path }, reader: everyRun };
  });
  try {
    return findCredentialUse(readers, ref);
  } finally {
    for (const r of readers) r.reader.close();
  }
}

async function whois(ref: string) {
  const r = await runCli([...stores, 'whois', ref, '--json'], { env });
  return { uses: r.code === 0 ? JSON.parse(r.stdout) : [], code: r.code, stderr: r.stderr };
}

async function credentialRunIds(ref: string) {
  const r = await runCli([...stores, 'runs', '--credential', ref, '--json'], { env });
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as Array<{ run_id: string }>).map((x) => x.run_id).sort();
}

beforeAll(async () => {
  // Demo runs (the demo's run token and database credential), then the credential runs.
  await writeStore(agent, trust, [
    { runId: 'run-demo-1', atMs: T0 - 60_000 },
    { runId: 'run-demo-2', atMs: T0 - 30_000 },
  ]);
  for (let w = 0; w < RUNS; w++) {
    const run = credentialRun(w);
    await append(agent, run.own);
    if (run.gateway.length > 0) await append(gateway, run.gateway);
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('credential queries answered from the index', () => {
  it('whois and runs --credential answer what reading every run answers', async () => {
    for (const ref of REFS) {
      const truth = fullScan(ref);
      const got = await whois(ref);
      expect(got.uses).toEqual(truth);
      // No index warning; a ref no run names exits with "no run issued or used" instead.
      if (truth.length > 0) expect(got.stderr).toBe('');
      else expect(got.stderr).toMatch(/^agent-audit: no run issued or used credential\.ref=/);
      expect(await credentialRunIds(ref)).toEqual(truth.map((u) => u.run_id).sort());
    }
    // Issued-only references (no span used them): missed by an index of span attributes.
    const issued = await whois('aat_iss_3');
    expect(issued.uses.map((u: { run_id: string }) => u.run_id)).toEqual(['run-cred-3']);
    expect(issued.uses[0].issued.issuer).toBe('vault');
    expect(issued.uses[0].tool_calls).toEqual([]);
    // A shared reference: each run once, its tool calls from both stores, newest run first.
    const shared = await whois('aat_shared_0');
    expect(shared.uses.map((u: { run_id: string }) => u.run_id)).toEqual([
      'run-cred-6',
      'run-cred-3',
      'run-cred-0',
    ]);
    expect(shared.uses[0].tool_calls.map((c: { service: string }) => c.service).sort()).toEqual([
      'gateway',
      'orchestrator',
    ]);
    expect((await whois('aat_nobody')).code).not.toBe(0);
  });

  it('an index row removed for an issued ref: whois still finds the run, says so, and rebuilds', async () => {
    const db = new Database(join(agent, 'index.sqlite'));
    db.exec("DELETE FROM credentials WHERE ref = 'aat_iss_6'");
    db.close();
    const got = await whois('aat_iss_6');
    expect(got.uses.map((u: { run_id: string }) => u.run_id)).toEqual(['run-cred-6']);
    expect(got.stderr).toMatch(/the query index disagrees with the segments/);
    expect(await whois('aat_iss_6')).toEqual({ ...got, stderr: '' });
  });

  it('an index row planted for a ref: no run is pinned on it', async () => {
    const db = new Database(join(agent, 'index.sqlite'));
    db.exec(
      `INSERT INTO credentials (seq, segment, kind, ref)
         SELECT seq, segment, 'used', 'aat_iss_1' FROM records WHERE run = 'run-cred-5' AND type = 'span.end' LIMIT 1`,
    );
    db.close();
    const got = await whois('aat_iss_1');
    expect(got.uses.map((u: { run_id: string }) => u.run_id)).toEqual(['run-cred-1']);
    expect(got.stderr).toMatch(/the query index disagrees with the segments/);
    expect(await credentialRunIds('aat_iss_1')).toEqual(['run-cred-1']);
  });

  it("the console's credential filter answers what reading every run answers", async () => {
    const console = await startConsole([...stores, '--index-dir', join(root, 'console-index')], {
      cwd: root,
      env,
    });
    try {
      await waitForIndex(console.url);
      const ids = async (query: string) => {
        const answer = await fetch(`${console.url}/api/runs?${query}&page_size=500`);
        expect(answer.status).toBe(200);
        return ((await answer.json()) as { runs: Array<{ run_id: string }> }).runs
          .map((r) => r.run_id)
          .sort();
      };
      for (const ref of REFS) {
        const truth = fullScan(ref)
          .map((u) => u.run_id)
          .sort();
        expect(await ids(`credential=${encodeURIComponent(ref)}`), ref).toEqual(truth);
      }
      expect(await ids('credential=aat_iss_4')).toEqual(['run-cred-4']);
      // With a decision: a tool call that used the credential and got that decision.
      expect(await ids('credential=aat_shared_1&decision=allow')).toEqual([
        'run-cred-1',
        'run-cred-4',
      ]);
      expect(await ids('credential=aat_iss_4&decision=allow')).toEqual([]);
    } finally {
      await console.stop();
    }
  });
});
