import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupTempStores, tempStore } from './helpers.js';

// Writing and verifying a store must not load the native SQLite module: the query side lives
// behind `@agent-audit/store/query`. Checked in a fresh process against the built dist/ (as a
// user's `node` loads it), by two independent witnesses: the CommonJS module cache (where the
// better-sqlite3 wrapper lands when anything imports it) and the shared objects the process has
// loaded (where its native addon lands once a database is opened).

afterEach(cleanupTempStores);

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const dist = (pkg: string, file = 'index.js') => path.join(repo, 'packages', pkg, 'dist', file);

const PROBE = `
const [entry, action, dir, trustDir] = process.argv.slice(1);
const m = await import(entry);
if (action === 'write-verify') {
  const store = m.AuditStore.open({ dir, trustDir });
  await store.append({ type: 'span.end', tags: { run: 'r' }, payload: {} });
  await store.close();
  const report = await m.verifyStore({ dir, trustDir });
  if (report.status !== 'verified') throw new Error('not verified: ' + report.status);
  const reader = m.openSegmentReader(dir);
  if (reader.recordsFrom(1).length === 0) throw new Error('no records');
  reader.close();
}
if (action === 'query') m.openStoreReader(dir).listRuns();
const { createRequire } = await import('node:module');
const require = createRequire(import.meta.url);
console.log(JSON.stringify({
  cached: Object.keys(require.cache).filter((k) => k.includes('better-sqlite3')).length,
  native: process.report.getReport().sharedObjects.filter((s) => s.includes('better_sqlite3')).length,
}));
`;

function probe(entry: string, action = 'import', dir = '', trustDir = '') {
  expect(fs.existsSync(entry), `${entry} is missing: run pnpm build first`).toBe(true);
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', PROBE, entry, action, dir, trustDir],
    { encoding: 'utf8', cwd: repo },
  );
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as { cached: number; native: number };
}

describe('entry points and the native SQLite module', () => {
  it('the store main entry writes, verifies and reads records without loading better-sqlite3', () => {
    const t = tempStore();
    expect(probe(dist('store'), 'write-verify', t.dir, t.trustDir)).toEqual({
      cached: 0,
      native: 0,
    });
  });

  it('the SDK and forwarder entries do not load it either', () => {
    expect(probe(dist('sdk'))).toEqual({ cached: 0, native: 0 });
    expect(probe(dist('forwarder'))).toEqual({ cached: 0, native: 0 });
  });

  it('the query entry does load it (the probe sees the module when it is there)', () => {
    const t = tempStore();
    fs.mkdirSync(t.dir, { recursive: true });
    const seen = probe(dist('store', 'query.js'), 'query', t.dir);
    expect(seen.cached).toBeGreaterThan(0);
    expect(seen.native).toBeGreaterThan(0);
  });

  it('package.json maps the query subpath, types first, and the main entry does not reach it', () => {
    const pkg = JSON.parse(
      fs.readFileSync(path.join(repo, 'packages/store/package.json'), 'utf8'),
    ) as { exports: Record<string, Record<string, string>> };
    expect(Object.keys(pkg.exports['./query']!)).toEqual(['types', 'default']);
    expect(Object.keys(pkg.exports['.']!)).toEqual(['types', 'default']);
    const main = fs.readFileSync(path.join(repo, 'packages/store/src/index.ts'), 'utf8');
    expect(main).not.toMatch(/store-index|store-reader|query/);
  });
});
