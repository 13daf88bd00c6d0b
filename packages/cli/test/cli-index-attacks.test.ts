import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/run-cli.js';
import { writeStore } from './support/write-store.js';

// The index is the store package's; the CLI does not depend on SQLite itself, so the attacker's
// tool is borrowed from there (as benchmarks/src/store-bench.ts does).
const Database = createRequire(new URL('../../store/package.json', import.meta.url))(
  'better-sqlite3',
) as new (
  file: string,
) => { exec(sql: string): void; close(): void };

// The CLI's side of "the index is a cache that cannot lie" (docs/reliability.md row 40):
// a lying index gives the true answer and a warning on stderr; reindex replaces any file.
describe('agent-audit queries over a tampered index', () => {
  const root = mkdtempSync(join(tmpdir(), 'cli-index-'));
  const store = join(root, 'store');
  const trust = join(root, 'trust');
  const index = join(store, 'index.sqlite');
  const env = { AGENT_AUDIT_STORE_DIR: store, AGENT_AUDIT_TRUST_DIR: trust };
  const runIds = async () => {
    const r = await runCli(['runs', '--json'], { env });
    expect(r.code).toBe(0);
    return {
      ids: (JSON.parse(r.stdout) as Array<{ run_id: string }>).map((x) => x.run_id).sort(),
      stderr: r.stderr,
    };
  };

  beforeAll(async () => {
    const now = Date.now();
    await writeStore(store, trust, [
      { runId: 'run-a', atMs: now - 3_000 },
      { runId: 'run-b', atMs: now - 2_000 },
      { runId: 'run-c', atMs: now - 1_000 },
    ]);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('a run deleted from the index is still listed, with a warning', async () => {
    expect((await runIds()).ids).toEqual(['run-a', 'run-b', 'run-c']);
    const db = new Database(index);
    db.exec("DELETE FROM records WHERE run = 'run-b'");
    db.close();
    const r = await runIds();
    expect(r.ids).toEqual(['run-a', 'run-b', 'run-c']);
    expect(r.stderr).toMatch(/the query index disagrees with the segments/);
    // Rebuilt: the next query is quiet.
    expect(await runIds()).toEqual({ ids: ['run-a', 'run-b', 'run-c'], stderr: '' });
  });

  it('reindex replaces a garbage index file', async () => {
    writeFileSync(index, 'this is not a database'.repeat(1000));
    for (const f of [`${index}-wal`, `${index}-shm`]) rmSync(f, { force: true });
    const q = await runIds();
    expect(q.ids).toEqual(['run-a', 'run-b', 'run-c']);
    expect(q.stderr).toMatch(/the query index is unusable/);
    const r = await runCli(['reindex', '--json'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ index, replaced: true });
    expect(await runIds()).toEqual({ ids: ['run-a', 'run-b', 'run-c'], stderr: '' });
  });
});
