import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditStore, verifyStore } from '../../packages/store/src/index.js';

// `pnpm test:node22` runs the framework tests that need Node >= 22 under the pinned binary of
// tools/node. This file checks that runtime itself: the version is the pinned major, and the
// store's write-and-verify path (the main entry, no native module) works in it, as the
// integrations running in Node 22 processes rely on.
let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('the Node 22 test runtime', () => {
  it('is Node 22 from tools/node, not the workspace Node', () => {
    expect(Number(process.versions.node.split('.')[0])).toBe(22);
    expect(fs.realpathSync(process.execPath)).toContain(path.join('tools', 'node', 'dist'));
  });

  it('writes a store and verifies it', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node22-store-'));
    const store = AuditStore.open({
      dir: path.join(dir, 'store'),
      trustDir: path.join(dir, 'trust'),
    });
    for (let i = 0; i < 3; i++) {
      await store.append({ type: 'event', tags: { agent: 'a', run: 'r' }, payload: { i } });
    }
    await store.close();
    const report = await verifyStore({
      dir: path.join(dir, 'store'),
      trustDir: path.join(dir, 'trust'),
    });
    expect(report.problems).toEqual([]);
    expect(report.exitCode).toBe(0);
    expect(report.status).toBe('verified');
  });
});
