import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'vitest';
import { AuditStore, type AuditStoreOptions, type VerifyReport } from '../src/index.js';
import { openStoreReader } from '../src/query.js';

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

/**
 * A fresh temporary store holding `records` span records (record i in run `runOf(i)`), closed:
 * the starting point of most verify and attack tests.
 */
export async function filledTempStore(
  records: number,
  options: Partial<AuditStoreOptions> = {},
  runOf: (i: number) => string = () => 'r',
): Promise<{ temp: TempStore; store: AuditStore }> {
  const temp = tempStore();
  const store = temp.open(options);
  for (let i = 0; i < records; i++) await store.append(span(runOf(i), i));
  await store.close();
  return { temp, store };
}

/**
 * A closed temporary store whose records span 10 days (4 a day, runs `day-N`, a clock advanced
 * by hand) in several small segments: what retention tests prune.
 */
export async function agedTempStore(): Promise<{ temp: TempStore; now: () => Date }> {
  const temp = tempStore();
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const now = () => new Date(clock);
  const store = temp.open({ now, segmentMaxBytes: 2500 });
  for (let day = 0; day < 10; day++) {
    for (let i = 0; i < 4; i++) await store.append(span(`day-${day}`, i));
    clock += DAY;
  }
  await store.close();
  return { temp, now };
}

const DAY = 86_400_000;

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

/** The `unattested` ranges of every `session.open` record of the store at `dir`. */
export function unattestedRanges(dir: string): Array<{ fromSeq: number; toSeq: number }> {
  const reader = openStoreReader(dir, { index: false });
  try {
    return reader
      .recordsFrom(1, 10_000_000)
      .filter((r) => r.type === 'session.open')
      .map(
        (r) => (r.payload as { unattested: { fromSeq: number; toSeq: number } | null }).unattested,
      )
      .filter((u): u is { fromSeq: number; toSeq: number } => u !== null);
  } finally {
    reader.close();
  }
}

/**
 * The verdict after a crash (kill -9, power cut): exit 0, or exit 2 whose only problem is
 * `RECOVERED_UNATTESTED` — and every range a `session.open` signed as unattested lies wholly
 * after every record the writer acknowledged before the crash. Records the writer
 * acknowledged are never reported as unattested.
 */
export function expectCrashVerdict(
  report: VerifyReport,
  dir: string,
  acknowledged: readonly number[],
  where = '',
): void {
  const ranges = unattestedRanges(dir);
  // A reduce, not Math.max(...list): a long-running writer acknowledges more records than fit
  // in the call stack as arguments.
  const lastAck = acknowledged.reduce((max, seq) => Math.max(max, seq), 0);
  for (const r of ranges) {
    expect(r.fromSeq, `${where}: unattested range ${r.fromSeq}-${r.toSeq}`).toBeGreaterThan(
      lastAck,
    );
  }
  const codes = report.problems.map((p) => p.code);
  if (ranges.length === 0) {
    expect(report.exitCode, `${where}: ${JSON.stringify(report.problems[0])}`).toBe(0);
  } else {
    expect([0, 2], `${where}: ${JSON.stringify(report.problems[0])}`).toContain(report.exitCode);
    expect(
      codes.every((c) => c === 'RECOVERED_UNATTESTED'),
      `${where}: ${codes}`,
    ).toBe(true);
  }
}

/** Highest `size` of the checkpoints in an anchor-format file (0 when missing or empty). */
export function anchoredThrough(file: string): number {
  if (!fs.existsSync(file)) return 0;
  let max = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    try {
      max = Math.max(max, (JSON.parse(line) as { size: number }).size ?? 0);
    } catch {
      // a torn line
    }
  }
  return max;
}

/** The payload of the newest `session.open` record of the store at `dir`. */
export function newestSession(dir: string):
  | {
      previous: string;
      attested: { seq: number; hash: string };
      unattested: { fromSeq: number; toSeq: number } | null;
    }
  | undefined {
  const reader = openStoreReader(dir, { index: false });
  try {
    const all = reader.recordsFrom(1, 10_000_000).filter((r) => r.type === 'session.open');
    return all.at(-1)?.payload as ReturnType<typeof newestSession>;
  } finally {
    reader.close();
  }
}
