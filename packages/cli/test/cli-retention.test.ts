import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, runCli } from './support/run-cli.js';
import { writeStore } from './support/write-store.js';

const DAY = 86_400_000;

/** What an attacker without the key can do: change a line, then re-hash it and every later line. */
function editAndRechain(file: string, index: number, edit: (line: string) => string): void {
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.pop();
  const rehash = (line: string) =>
    createHash('sha256')
      .update(`{${line.slice(75)}`)
      .digest('hex');
  let old = lines[index]!.slice(9, 73);
  let line = edit(lines[index]!);
  let hash = rehash(line);
  lines[index] = `{"hash":"${hash}"${line.slice(74)}`;
  for (let i = index + 1; i < lines.length; i++) {
    line = lines[i]!.replace(`"prev":"${old}"`, `"prev":"${hash}"`);
    old = lines[i]!.slice(9, 73);
    hash = rehash(line);
    lines[i] = `{"hash":"${hash}"${line.slice(74)}`;
  }
  chmodSync(file, 0o600);
  writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
}

describe('agent-audit prune and verify with a retention policy', () => {
  const root = mkdtempSync(join(tmpdir(), 'cli-retention-'));
  const store = join(root, 'store');
  const trust = join(root, 'trust');
  const env = { AGENT_AUDIT_STORE_DIR: store, AGENT_AUDIT_TRUST_DIR: trust };
  const policy = join(root, 'policy.json');
  const now = Date.now();

  beforeAll(async () => {
    writeFileSync(policy, JSON.stringify({ minAge: '30d', maxAge: '200d' }));
    await writeStore(
      store,
      trust,
      [
        { runId: 'run-400d', atMs: now - 400 * DAY },
        { runId: 'run-300d', atMs: now - 300 * DAY },
        { runId: 'run-5d', atMs: now - 5 * DAY },
        { runId: 'run-1d', atMs: now - DAY },
      ],
      { segmentMaxBytes: 16 * 1024 },
    );
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const segmentFiles = () =>
    readdirSync(join(store, 'segments'))
      .filter((f) => f.endsWith('.jsonl'))
      .sort();

  it('a bad policy file is refused with a Configuration message naming it', async () => {
    const bad = join(root, 'bad.json');
    writeFileSync(bad, JSON.stringify({ minAge: '300d', maxAge: '200d' }));
    const r = await runCli(['prune', '--retention-policy', bad], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /Configuration: retention policy .*bad\.json\.minAge is invalid, expected at most maxAge/,
    );
    const missing = await runCli(['prune', '--retention-policy', join(root, 'nope.json')], { env });
    expect(missing.stderr).toMatch(/retention policy file .*nope\.json cannot be read/);
  });

  it('records the policy; verify shows it and reports data past its maximum as a warning', async () => {
    const r = await runCli(['prune', '--retention-policy', policy, '--before', '1000d'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const verify = await runCli(['verify', '--json'], { env });
    expect(verify.code).toBe(0);
    const report = JSON.parse(verify.stdout);
    expect(report.retention.policies.at(-1).policy).toEqual({
      minAgeMs: 30 * DAY,
      maxAgeMs: 200 * DAY,
      tenants: {},
    });
    const exceeded = report.warnings.filter(
      (w: { code: string }) => w.code === 'RETENTION_EXCEEDED',
    );
    expect(exceeded).toHaveLength(1);
    expect(exceeded[0].message).toMatch(/past the 200d maximum/);
    const human = await runCli(['verify'], { env });
    expect(human.stdout).toMatch(
      /retention policy in force \(seq \d+, 1 change\(s\) recorded\): min 30d, max 200d/,
    );
    expect(human.stdout).toMatch(/warning: RETENTION_EXCEEDED/);
  });

  it('refuses to remove data younger than the minimum, naming segment, age and minimum; removes nothing', async () => {
    const before = segmentFiles();
    const r = await runCli(['prune', '--before', '2d'], { env });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/prune refused to remove segment \d+/);
    expect(r.stderr).toMatch(/30d minimum of the recorded retention policy/);
    expect(r.stderr).toMatch(/RETENTION_MIN_AGE/);
    expect(segmentFiles()).toEqual(expect.arrayContaining(before));
  });

  it('without --before removes what is past the maximum age; verify still passes', async () => {
    const r = await runCli(['prune', '--json'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.before).toBeNull();
    expect(out.segments[0]).toBe(1);
    const verify = await runCli(['verify', '--json'], { env });
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout).pruned).toHaveLength(1);
  });

  it('attack: the recorded policy weakened in place and the chain recomputed — verify 1, prune refuses, before and after a writer restart', async () => {
    const files = segmentFiles();
    const newest = join(store, 'segments', files.at(-1)!);
    const lines = readFileSync(newest, 'utf8').split('\n');
    const index = lines.findIndex((l) => l.endsWith('"type":"retention.policy"}'));
    expect(index).toBeGreaterThan(-1);
    editAndRechain(newest, index, (l) => l.replace(`"minAgeMs":${30 * DAY}`, '"minAgeMs":0'));
    for (let round = 0; round < 2; round++) {
      const verify = await runCli(['verify', '--json'], { env });
      expect(verify.code).toBe(1);
      const codes = JSON.parse(verify.stdout).problems.map((p: { code: string }) => p.code);
      expect(codes).toContain('STATEMENT_BAD_SIGNATURE');
      const before = segmentFiles();
      // A writer restart (prune opens the store as its writer) must not prune under it.
      const prune = await runCli(['prune', '--before', '2d'], { env });
      expect(prune.code).toBe(3);
      expect(segmentFiles()).toEqual(expect.arrayContaining(before));
    }
  });
});

describe('agent-audit prune --every', () => {
  it('prunes on a schedule until SIGTERM, reporting each run', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cli-retention-every-'));
    const store = join(root, 'store');
    const trust = join(root, 'trust');
    const now = Date.now();
    try {
      await writeStore(
        store,
        trust,
        [
          { runId: 'run-400d', atMs: now - 400 * DAY },
          { runId: 'run-1d', atMs: now - DAY },
        ],
        { segmentMaxBytes: 16 * 1024, retention: { maxAge: '100d' } },
      );
      const child = spawn(process.execPath, [CLI_BIN, 'prune', '--every', '1h'], {
        env: { ...process.env, AGENT_AUDIT_STORE_DIR: store, AGENT_AUDIT_TRUST_DIR: trust },
      });
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (d) => {
          stdout += d;
          if (/pruned \d+ segment/.test(stdout)) resolve();
        });
      });
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(stdout).toMatch(/past the recorded maximum age/);
      const verify = await runCli(['verify', '--json'], {
        env: { AGENT_AUDIT_STORE_DIR: store, AGENT_AUDIT_TRUST_DIR: trust },
      });
      expect(verify.code).toBe(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
