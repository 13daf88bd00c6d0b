import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditStore, type AuditStoreOptions } from '@agent-audit/store';
import { afterAll, describe, expect, it } from 'vitest';
import { retainUntilFor } from '../src/push-archive.js';

const DAY = 86_400_000;
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

async function store(extra: Partial<AuditStoreOptions> = {}) {
  const root = mkdtempSync(join(tmpdir(), 'aa-retain-'));
  roots.push(root);
  const dir = join(root, 'store');
  const trustDir = join(root, 'trust');
  const s = AuditStore.open({ dir, trustDir, ...extra });
  await s.append({ type: 'event', tags: { run: 'r' }, payload: { n: 1 } });
  await s.close();
  return { dir, trustDir };
}

describe("archive retain-until from the store's recorded retention policy", () => {
  const now = new Date('2026-12-05T00:00:00Z');

  it('now + the policy maxAge; --retain-days wins; no policy: the default 365 days', async () => {
    const withPolicy = await store({ retention: { minAge: '30d', maxAge: '90d' } });
    expect(retainUntilFor(withPolicy.dir, withPolicy.trustDir, undefined, now).getTime()).toBe(
      now.getTime() + 90 * DAY,
    );
    expect(retainUntilFor(withPolicy.dir, withPolicy.trustDir, 10, now).getTime()).toBe(
      now.getTime() + 10 * DAY,
    );
    const tenantsOnly = await store({
      retention: { tenants: { acme: { maxAge: '40d' }, beta: { maxAge: '70d' } } },
    });
    expect(retainUntilFor(tenantsOnly.dir, tenantsOnly.trustDir, undefined, now).getTime()).toBe(
      now.getTime() + 70 * DAY,
    );
    const none = await store();
    expect(retainUntilFor(none.dir, none.trustDir, undefined, now).getTime()).toBe(
      now.getTime() + 365 * DAY,
    );
  });

  it('a policy record edited in the store is not trusted: the push fails naming the store', async () => {
    const s = await store({ retention: { maxAge: '3650d' } });
    const seg = join(s.dir, 'segments', readdirSync(join(s.dir, 'segments')).sort().at(-1)!);
    const text = readFileSync(seg, 'utf8').replace(
      `"maxAgeMs":${3650 * DAY}`,
      '"maxAgeMs":86400000',
    );
    chmodSync(seg, 0o600);
    writeFileSync(seg, text);
    expect(() => retainUntilFor(s.dir, s.trustDir, undefined, now)).toThrow(
      /RETENTION|cannot be trusted/,
    );
  });
});
