import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/run-cli.js';
import { writeStore } from './support/write-store.js';

const DAY = 86_400_000;

// Stores written by the store package's real writer, read by the built bin as a child process.
describe('agent-audit against a real store', () => {
  const root = mkdtempSync(join(tmpdir(), 'cli-store-'));
  const store = join(root, 'store');
  const trust = join(root, 'trust');
  const env = { AGENT_AUDIT_STORE_DIR: store, AGENT_AUDIT_TRUST_DIR: trust };
  const now = Date.now();

  beforeAll(async () => {
    await writeStore(store, trust, [
      { runId: 'run-old', principal: 'user:111', atMs: now - 120 * DAY },
      { runId: 'run-a', principal: 'user:456', atMs: now - 10 * DAY },
      { runId: 'run-b', principal: 'user:789', atMs: now - DAY },
    ]);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  describe('trail', () => {
    it('--json prints only JSON: the run and its spans with stable fields', async () => {
      const r = await runCli(['trail', 'run-a', '--json'], { env });
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.run_id).toBe('run-a');
      expect(out.spans).toHaveLength(11);
      for (const span of out.spans) {
        for (const key of [
          'trace_id',
          'span_id',
          'parent_span_id',
          'depth',
          'name',
          'kind',
          'start',
          'end',
          'duration_ms',
          'service',
          'pid',
          'agent_id',
          'tool',
          'decision',
          'credential_ref',
          'input_hash',
          'output_hash',
          'status',
          'incomplete',
        ]) {
          expect(span).toHaveProperty(key);
        }
        expect(span.run_id).toBe('run-a');
      }
      expect(out.spans[0]).toMatchObject({
        depth: 0,
        name: 'invoke_agent Support Agent',
        service: 'orchestrator',
        status: 'ok',
      });
      expect(out.spans.map((s: { tool: string | null }) => s.tool).filter(Boolean)).toEqual([
        'search_kb',
        'db_update',
        'send_email',
        'send_email',
        'send_email',
        'delete_account',
        'fetch_doc',
        'refund',
      ]);
      expect(out.spans.at(-1)).toMatchObject({
        tool: 'refund',
        incomplete: true,
        status: 'incomplete',
      });
    });

    it('--json works before the command too', async () => {
      const r = await runCli(['--json', '--store', store, 'trail', 'run-b'], {
        env: { AGENT_AUDIT_TRUST_DIR: trust },
      });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).run_id).toBe('run-b');
    });

    it('prints an aligned human timeline with processes, tools, decisions and credentials (--wide)', async () => {
      const r = await runCli(['trail', 'run-a', '--wide'], { env });
      expect(r.code).toBe(0);
      const lines = r.stdout.split('\n');
      expect(lines[0]).toContain('workflow.run_id=run-a');
      const header = lines.find((l) => l.startsWith('TIME'))!;
      for (const column of [
        'PROCESS',
        'AGENT',
        'KIND',
        'SPAN',
        'TOOL',
        'DECISION',
        'CREDENTIAL',
        'INPUT',
        'OUTPUT',
        'STATUS',
        'DURATION',
      ]) {
        expect(header).toContain(column);
      }
      const db = lines.find((l) => l.includes('execute_tool db_update'))!;
      expect(db).toMatch(
        /orchestrator\[4242\].*support-agent.*internal.*db_update.*allow.*cred:db-writer.*sha256:4{64}.*sha256:5{64}/,
      );
      // Children are indented under their parent.
      expect(db.indexOf('execute_tool db_update')).toBe(
        lines.find((l) => l.includes('invoke_agent'))!.indexOf('invoke_agent') + 2,
      );
      expect(lines.find((l) => l.includes('fetch_doc'))).toMatch(
        /sub-agent\[5151\].*research-agent/,
      );
      expect(lines.find((l) => l.includes('delete_account'))).toMatch(/stop.*ERROR PolicyStop/);
      expect(lines.find((l) => l.includes('execute_tool refund'))).toContain('INCOMPLETE');
      // The approval chain reads off the timeline: refused, requested, approved, allowed, sent.
      const email = lines.findIndex((l) => l.includes('execute_tool send_email'));
      expect(lines[email]).toMatch(/send_email\s+approval_required.*ERROR ApprovalRequiredError/);
      expect(lines[email + 1]).toMatch(/event\s+· policy\.decision\s+approval_required/);
      expect(lines[email + 2]).toMatch(/· approval\.requested/);
      expect(lines[email + 3]).toMatch(/approval send_email\s+send_email/);
      expect(lines[email + 4]).toMatch(/· approval\.granted\s+approved/);
      expect(lines[email + 5]).toMatch(/execute_tool send_email\s+send_email\s+allow/);
      expect(lines[email + 6]).toMatch(/· policy\.decision\s+allow/);
    });

    it('exits 4 for an unknown run, stdout empty', async () => {
      const r = await runCli(['trail', 'no-such-run', '--json'], { env });
      expect(r.code).toBe(4);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/no run with workflow\.run_id=no-such-run.*agent-audit runs/);
    });
  });

  describe('runs', () => {
    it('--json: one object per run with the contract fields', async () => {
      const r = await runCli(['runs', '--json'], { env });
      expect(r.code).toBe(0);
      const runs = JSON.parse(r.stdout);
      expect(runs.map((x: { run_id: string }) => x.run_id)).toEqual(['run-b', 'run-a', 'run-old']);
      for (const run of runs) {
        expect(Object.keys(run).sort()).toEqual(
          [
            'agent_id',
            'end',
            'incomplete',
            'principal',
            'run_id',
            'spans',
            'start',
            'status',
          ].sort(),
        );
      }
      expect(runs[1]).toMatchObject({
        principal: 'user:456',
        agent_id: 'support-agent',
        incomplete: true,
      });
    });

    it('filters by principal and --since 90d (the auditor question)', async () => {
      const r = await runCli(
        ['runs', '--principal', 'user:456', '--since', '90d', '--json', '--actions'],
        { env },
      );
      expect(r.code).toBe(0);
      const runs = JSON.parse(r.stdout);
      expect(runs).toHaveLength(1);
      expect(runs[0].run_id).toBe('run-a');
      // Tool calls only: the approval span names the tool but is not a call.
      expect(runs[0].actions.map((a: { tool: string }) => a.tool)).toEqual([
        'search_kb',
        'db_update',
        'send_email',
        'send_email',
        'delete_account',
        'fetch_doc',
        'refund',
      ]);
      const old = await runCli(['runs', '--since', '90d', '--json'], { env });
      expect(JSON.parse(old.stdout).map((x: { run_id: string }) => x.run_id)).toEqual([
        'run-b',
        'run-a',
      ]);
      const until = await runCli(['runs', '--until', '30d', '--json'], { env });
      expect(JSON.parse(until.stdout).map((x: { run_id: string }) => x.run_id)).toEqual([
        'run-old',
      ]);
    });

    it('filters by decision outcome', async () => {
      const r = await runCli(['runs', '--decision', 'stop', '--json', '--actions'], { env });
      expect(r.code).toBe(0);
      const runs = JSON.parse(r.stdout);
      expect(runs).toHaveLength(3);
      expect(runs[0].actions.map((a: { tool: string }) => a.tool)).toEqual(['delete_account']);
    });

    it('prints a table for humans (--wide: every column)', async () => {
      const r = await runCli(['runs', '--agent', 'support-agent', '--wide'], { env });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(
        /RUN ID\s+PRINCIPAL\s+AGENT\s+START\s+END\s+STATUS\s+SPANS\s+INCOMPLETE/,
      );
      expect(r.stdout).toContain('3 run(s)');
    });
  });

  describe('explain and report', () => {
    it('explain --json answers the six questions', async () => {
      const r = await runCli(['explain', 'run-a', '--json'], { env });
      expect(r.code).toBe(0);
      const x = JSON.parse(r.stdout);
      for (const key of ['trigger', 'context', 'actions', 'checks', 'approvals', 'side_effects']) {
        expect(x).toHaveProperty(key);
      }
      expect(x.trigger.principal).toBe('user:456');
      expect(x.approvals[1].approver).toBe('human:alice');
      expect(x.side_effects[0].object_id).toBe('ticket/991');
      expect(x.checks.map((c: { outcome: string }) => c.outcome)).toContain('stop');
    });

    it('explain prints the six sections, and exits 4 for an unknown run', async () => {
      const r = await runCli(['explain', 'run-a'], { env });
      expect(r.code).toBe(0);
      for (const heading of [
        '1. Trigger',
        '2. Agent and context',
        '3. Actions',
        '4. Checks',
        '5. Approvals',
        '6. Side effects',
      ]) {
        expect(r.stdout).toContain(heading);
      }
      expect((await runCli(['explain', 'nope'], { env })).code).toBe(4);
    });

    it('report --html writes a self-contained page', async () => {
      const file = join(root, 'out', 'run-a.html');
      const r = await runCli(['report', 'run-a', '--html', file, '--json'], { env });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ run_id: 'run-a', file, spans: 11 });
      const html = readFileSync(file, 'utf8');
      expect(html).toContain('run-a');
      expect(html).not.toMatch(/<script|<link|src=|href=/i);
      expect((await runCli(['report', 'nope', '--html', join(root, 'x.html')], { env })).code).toBe(
        4,
      );
      expect(existsSync(join(root, 'x.html'))).toBe(false);
    });
  });

  describe('verify', () => {
    it('exits 0 on an intact store with the trust directory key and anchor', async () => {
      const r = await runCli(['verify'], { env });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^VERIFIED/);
      const json = await runCli(['verify', '--json'], { env });
      expect(json.code).toBe(0);
      expect((await runCli(['verify', '--full'], { env })).code).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({ exitCode: 0, problems: [] });
    });

    it('names a missing --public-key file, exit 3', async () => {
      const r = await runCli(['verify', '--public-key', join(root, 'missing.pem')], { env });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/cannot read public key .*missing\.pem \(ENOENT\)/);
    });

    it('names a missing --anchor file, exit 2 (ANCHOR_MISSING), the rest still verified', async () => {
      const r = await runCli(['verify', '--anchor', join(root, 'missing-anchor.jsonl')], { env });
      expect(r.code).toBe(2);
      expect(r.stdout).toMatch(/^NOT FULLY VERIFIED/);
      expect(r.stdout).toMatch(/anchor NOT checked: anchor file .*missing-anchor\.jsonl not found/);
      expect(r.stdout).toMatch(/first problem: ANCHOR_MISSING/);
    });

    it('checks an explicit --public-key and --anchor', async () => {
      const r = await runCli(
        [
          'verify',
          '--public-key',
          join(trust, 'public-key.pem'),
          '--anchor',
          join(trust, 'anchor.jsonl'),
        ],
        {
          env: { AGENT_AUDIT_STORE_DIR: store, AGENT_AUDIT_TRUST_DIR: join(root, 'no-trust-here') },
        },
      );
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/anchor checked: .*anchor\.jsonl/);
    });

    it('exits 2, not 0, without an anchor to check against', async () => {
      const r = await runCli(['verify', '--public-key', join(trust, 'public-key.pem')], {
        env: { AGENT_AUDIT_STORE_DIR: store, AGENT_AUDIT_TRUST_DIR: join(root, 'no-trust-here') },
      });
      expect(r.code).toBe(2);
      expect(r.stdout).toMatch(/^NOT FULLY VERIFIED/);
      expect(r.stdout).toMatch(/anchor NOT checked/);
    });

    it('exits 1 and names the first problem after one byte of a segment changes', async () => {
      const copy = join(root, 'tampered');
      const copyTrust = join(root, 'tampered-trust');
      await writeStore(copy, copyTrust, [{ runId: 'run-t' }]);
      const segments = join(copy, 'segments');
      const file = join(
        segments,
        readdirSync(segments)
          .filter((f) => f.endsWith('.jsonl'))
          .sort()[0]!,
      );
      const bytes = readFileSync(file);
      const at = bytes.indexOf('db_update');
      expect(at).toBeGreaterThan(0);
      const before = await runCli(['--store', copy, 'verify'], {
        env: { AGENT_AUDIT_TRUST_DIR: copyTrust },
      });
      expect(before.code).toBe(0);
      bytes[at] = 'D'.charCodeAt(0);
      writeFileSync(file, bytes);
      const r = await runCli(['--store', copy, 'verify'], {
        env: { AGENT_AUDIT_TRUST_DIR: copyTrust },
      });
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^TAMPERED/);
      expect(r.stdout).toMatch(/first problem: [A-Z_]+ at segment \d+, seq \d+/);
      const json = await runCli(['--store', copy, 'verify', '--json'], {
        env: { AGENT_AUDIT_TRUST_DIR: copyTrust },
      });
      expect(json.code).toBe(1);
      expect(
        (
          await runCli(['--store', copy, 'verify', '--full'], {
            env: { AGENT_AUDIT_TRUST_DIR: copyTrust },
          })
        ).code,
      ).toBe(1);
      // Reading commands refuse a damaged record rather than show it as evidence.
      const trail = await runCli(['--store', copy, 'trail', 'run-t'], {
        env: { AGENT_AUDIT_TRUST_DIR: copyTrust },
      });
      expect(trail.code).toBe(3);
      expect(trail.stdout).toBe('');
      expect(trail.stderr).toMatch(/does not match its hash.*agent-audit verify/);
      const report = JSON.parse(json.stdout);
      expect(report.problems[0]).toMatchObject({
        code: expect.any(String),
        segment: expect.any(Number),
      });
    });
  });

  describe('status', () => {
    it('reports size, head, runs, trust material, and the forwarder cursor once one exists', async () => {
      const before = await runCli(['status', '--json'], { env });
      expect(before.code).toBe(0);
      const s = JSON.parse(before.stdout);
      expect(s.store).toMatchObject({
        dir: store,
        segments: expect.any(Number),
        runs: 3,
        writer: null,
      });
      expect(s.store.head_seq).toBeGreaterThan(20);
      expect(s.trust.public_key).toBe(join(trust, 'public-key.pem'));
      expect(s.trust.last_anchor.key_id).toMatch(/^ed25519:/);
      expect(s.forwarder).toBeNull();
      // The SDK forwarder's cursor file (format version 1), as it persists it.
      mkdirSync(join(store, 'forwarder'), { recursive: true });
      writeFileSync(
        join(store, 'forwarder', 'cursor.json'),
        JSON.stringify({
          version: 1,
          nextSeq: 11,
          delivered: 7,
          deadLetterBatches: 1,
          deadLetterSpans: 2,
          lastError: 'HTTP 503',
          lastErrorAt: '2026-11-25T00:00:00.000Z',
          endpoint: 'http://127.0.0.1:4318/v1/traces',
          updatedAt: '2026-11-25T00:00:01.000Z',
        }),
      );
      const after = await runCli(['status', '--json'], { env });
      const f = JSON.parse(after.stdout).forwarder;
      expect(f).toMatchObject({
        next_seq: 11,
        pending_records: s.store.head_seq - 10,
        delivered: 7,
        dead_letter_batches: 1,
        last_error: 'HTTP 503',
      });
      const human = await runCli(['status'], { env });
      expect(human.stdout).toMatch(/forwarder → http:\/\/127\.0\.0\.1:4318\/v1\/traces/);
      expect(human.stdout).toMatch(/last error HTTP 503/);
      rmSync(join(store, 'forwarder'), { recursive: true });
    });
  });

  describe('keygen', () => {
    it('writes a pair, refuses to overwrite, --force keeps the old pair aside', async () => {
      const out = join(root, 'keys');
      const first = await runCli(['keygen', '--out', out, '--json']);
      expect(first.code).toBe(0);
      const written = JSON.parse(first.stdout);
      expect(written.key_id).toMatch(/^ed25519:[0-9a-f]{16}$/);
      expect(statSync(written.private_key_path).mode & 0o077).toBe(0);
      const again = await runCli(['keygen', '--out', out]);
      expect(again.code).toBe(3);
      expect(again.stderr).toMatch(/a key pair already exists in .*keys.*--force/);
      const replaced = await runCli(['keygen', '--out', out, '--force']);
      expect(replaced.code).toBe(0);
      expect(replaced.stdout).toMatch(/verify --public-key .*public-key\.pem/);
      expect(readdirSync(out).filter((f) => f.includes('.replaced-'))).toHaveLength(2);
    });
  });
});
