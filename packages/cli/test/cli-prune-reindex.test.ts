import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/run-cli.js';
import { writeStore } from './support/write-store.js';

const DAY = 86_400_000;

describe('agent-audit prune and reindex', () => {
  const root = mkdtempSync(join(tmpdir(), 'cli-prune-'));
  const store = join(root, 'store');
  const trust = join(root, 'trust');
  const env = { AGENT_AUDIT_STORE_DIR: store, AGENT_AUDIT_TRUST_DIR: trust };
  const now = Date.now();

  beforeAll(async () => {
    // Small segments, so the old runs fill sealed segments of their own.
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

  const segmentNames = () =>
    readdirSync(join(store, 'segments')).filter((f) => f.endsWith('.jsonl'));
  const segmentCount = () =>
    readdirSync(join(store, 'segments')).filter((f) => f.endsWith('.jsonl')).length;

  it('--retention keeps what is younger than it, whatever --before says', async () => {
    const before = segmentNames();
    const r = await runCli(['prune', '--before', '1d', '--retention', '500d', '--json'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ segments: [], prune_seq: null });
    // Opening the store as writer may start a segment; none may disappear.
    expect(segmentNames()).toEqual(expect.arrayContaining(before));
  });

  it('removes only whole old sealed segments; verify still passes and reports the prune', async () => {
    const before = segmentCount();
    const r = await runCli(['prune', '--before', '200d'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/pruned \d+ segment\(s\) .*signed prune record at seq \d+/s);
    expect(segmentCount()).toBeLessThan(before);
    const verify = await runCli(['verify', '--json'], { env });
    const report = JSON.parse(verify.stdout);
    expect(verify.code).toBe(0);
    expect(report.pruned).toHaveLength(1);
    const human = await runCli(['verify'], { env });
    expect(human.stdout).toMatch(/pruned at seq \d+: segment\(s\) /);
    const runs = JSON.parse((await runCli(['runs', '--json'], { env })).stdout);
    const ids = runs.map((x: { run_id: string }) => x.run_id);
    expect(ids).toContain('run-5d');
    expect(ids).toContain('run-1d');
    expect(ids).not.toContain('run-400d');
  });

  it('rejects a bad --before and a bad --retention', async () => {
    const r = await runCli(['prune', '--before', 'last year'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/invalid --before value "last year"/);
    const q = await runCli(['prune', '--before', '1d', '--retention', 'forever'], { env });
    expect(q.code).toBe(1);
    expect(q.stderr).toMatch(/invalid --retention value "forever"/);
  });

  it('reindex rebuilds the index from the segments and queries still answer', async () => {
    rmSync(join(store, 'index.sqlite'), { force: true });
    const r = await runCli(['reindex', '--json'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.records).toBeGreaterThan(10);
    expect(existsSync(out.index)).toBe(true);
    const trail = await runCli(['trail', 'run-5d', '--json'], { env });
    expect(trail.code).toBe(0);
    expect(JSON.parse(trail.stdout).spans).toHaveLength(11);
  });
});
