import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/run-cli.js';
import { writeStore } from './support/write-store.js';

/** The verdicts docs/store-format.md promises, reached through the built CLI. */
describe('agent-audit verify: the documented trust rules', () => {
  const root = mkdtempSync(join(tmpdir(), 'cli-verify-trust-'));
  const store = join(root, 'store');
  const trust = join(root, 'trust');
  const env = { AGENT_AUDIT_STORE_DIR: store, AGENT_AUDIT_TRUST_DIR: trust };

  beforeAll(async () => {
    await writeStore(store, trust, [{ runId: 'run-t' }]);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const firstSegment = () => {
    const dir = join(store, 'segments');
    return join(
      dir,
      readdirSync(dir)
        .filter((f) => f.endsWith('.jsonl'))
        .sort()[0]!,
    );
  };

  it('a --public-key inside the store is refused, whatever it holds: never 0', async () => {
    const inside = join(store, 'public-key.pem');
    copyFileSync(join(trust, 'public-key.pem'), inside);
    try {
      const r = await runCli(['verify', '--public-key', inside, '--json'], { env });
      const report = JSON.parse(r.stdout);
      expect(r.code).toBe(2);
      expect(report.trustedKeys).toEqual([]);
      expect(report.warnings.map((w: { code: string }) => w.code)).toContain(
        'KEY_INSIDE_STORE_IGNORED',
      );
    } finally {
      rmSync(inside);
    }
  });

  it('--origin: the right one verifies, another is STORE_IDENTITY_MISMATCH (1), a bad value is refused', async () => {
    const json = JSON.parse((await runCli(['verify', '--json'], { env })).stdout);
    expect(json.exitCode).toBe(0);
    expect((await runCli(['verify', '--origin', json.origin], { env })).code).toBe(0);
    const other = await runCli(['verify', '--origin', 'f'.repeat(32)], { env });
    expect(other.code).toBe(1);
    expect(other.stdout).toMatch(/first problem: STORE_IDENTITY_MISMATCH/);
    const bad = await runCli(['verify', '--origin', 'xyz'], { env });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/Configuration: --origin is invalid/);
  });

  it('a missing --anchor on a tampered store: tampering wins (1), the missing anchor is listed', async () => {
    const file = firstSegment();
    const original = readFileSync(file);
    const bytes = Buffer.from(original);
    const at = bytes.indexOf('run-t', 200);
    bytes[at] = 'R'.charCodeAt(0);
    writeFileSync(file, bytes);
    try {
      const r = await runCli(['verify', '--json', '--anchor', join(root, 'nope.jsonl')], { env });
      expect(r.code).toBe(1);
      const codes = JSON.parse(r.stdout).problems.map((p: { code: string }) => p.code);
      expect(codes).toContain('RECORD_HASH_MISMATCH');
      expect(codes).toContain('ANCHOR_MISSING');
    } finally {
      writeFileSync(file, original);
    }
    expect((await runCli(['verify'], { env })).code).toBe(0);
  });
});
