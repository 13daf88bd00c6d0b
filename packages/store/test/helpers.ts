import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AuditStore, type AuditStoreOptions } from '../src/index.js';

export interface TempStore {
  root: string;
  dir: string;
  trustDir: string;
  anchorPath: string;
  open(extra?: Partial<AuditStoreOptions>): AuditStore;
  cleanup(): void;
}

const created: TempStore[] = [];

/** Remove every temporary store made since the last call (tests call it in afterEach). */
export function cleanupTempStores(): void {
  for (const store of created.splice(0)) store.cleanup();
}

/** A store and a trust directory side by side in a fresh temporary directory. */
export function tempStore(): TempStore {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-audit-store-'));
  const dir = path.join(root, 'store');
  const trustDir = path.join(root, 'trust');
  const store: TempStore = {
    root,
    dir,
    trustDir,
    anchorPath: path.join(trustDir, 'anchor.jsonl'),
    open: (extra = {}) => AuditStore.open({ dir, trustDir, ...extra }),
    cleanup: () => {
      chmodTree(root);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  created.push(store);
  return store;
}

/** Sealed segments are read-only; make the tree writable again so it can be removed. */
function chmodTree(p: string): void {
  try {
    const st = fs.lstatSync(p);
    fs.chmodSync(p, st.isDirectory() ? 0o755 : 0o644);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) chmodTree(path.join(p, e));
  } catch {
    // already gone
  }
}

export function segmentPath(dir: string, n: number): string {
  return path.join(dir, 'segments', `${String(n).padStart(8, '0')}.jsonl`);
}

export function span(run: string, i: number, extra: Record<string, string> = {}) {
  return {
    type: 'span.end' as const,
    tags: { run, span: `s${i}`, status: 'ok', ...extra },
    payload: { name: `tool ${i}`, i, data: 'x'.repeat(200) },
  };
}

/** Lines of a segment file (without the trailing empty string). */
export function readLines(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  lines.pop();
  return lines;
}

export function writeLines(file: string, lines: string[]): void {
  fs.chmodSync(file, 0o644);
  fs.writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
}
