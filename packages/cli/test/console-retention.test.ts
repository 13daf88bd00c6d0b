import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditStore } from '@agent-audit/store';
import { afterAll, describe, expect, it } from 'vitest';
import { ConsoleData } from '../src/console/console-data.js';

const DAY = 86_400_000;
const root = mkdtempSync(join(tmpdir(), 'aa-console-retention-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function store(name: string, atMs: number, retention?: { maxAge: string }) {
  const dir = join(root, name);
  const s = AuditStore.open({
    dir,
    trustDir: join(root, 'trust'),
    now: () => new Date(atMs),
    ...(retention ? { retention } : {}),
  });
  await s.append({ type: 'event', tags: { run: `run-${name}` }, payload: { n: 1 } });
  await s.close();
  return { shown: name, path: dir };
}

describe('console compliance: retention status from the policy each store records', () => {
  it("a store's recorded maxAge wins over the console option; without one, the option applies", async () => {
    const now = Date.now();
    const recorded = await store('recorded', now - 20 * DAY, { maxAge: '10d' });
    const plain = await store('plain', now - 20 * DAY);
    const data = new ConsoleData({
      stores: [recorded, plain],
      indexDir: join(root, 'index'),
      trust: { trustDir: join(root, 'trust'), anchorPath: false },
      retentionMs: 30 * DAY,
    });
    const rows = data.retention(new Date(now));
    expect(rows.find((r) => r.store === 'recorded')).toMatchObject({
      policy_days: 10,
      status: 'overdue',
    });
    expect(rows.find((r) => r.store === 'plain')).toMatchObject({
      policy_days: 30,
      status: 'within',
    });
  });
});
