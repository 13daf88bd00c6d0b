// Red-team kit: builds real stores with the real writer, forges records the way an attacker
// with write access to the store directory (and none to the trust directory) would, restarts
// the real writer and runs the real CLI `verify`. Written from docs/store-format.md only.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditStore } from '@agent-audit/store';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = path.join(ROOT, 'packages/cli/dist/bin.js');
const STORE_DIST = path.join(ROOT, 'packages/store/dist/index.js');

export interface Lab {
  root: string;
  trust: string;
  dir(name: string): string;
}

export function makeLab(): Lab {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'aa-redteam-'));
  const trust = path.join(root, 'trust');
  return { root, trust, dir: (name) => path.join(root, name) };
}

export interface Rec {
  hash: string;
  payload: unknown;
  prev: string;
  seq: number;
  tags: Record<string, string>;
  time: string;
  type: string;
}

export type StoreOpts = Partial<{
  checkpointEveryRecords: number;
  checkpointIntervalMs: number;
  segmentMaxBytes: number;
}>;

/** A real store written by the real writer: `records` events of run `run`, closed cleanly. */
export async function writeStore(
  lab: Lab,
  dir: string,
  records = 5,
  opts: StoreOpts & { run?: string; close?: boolean; tags?: Record<string, string> } = {},
): Promise<void> {
  const { run = 'r1', close = true, tags = {}, ...storeOpts } = opts;
  const store = AuditStore.open({ dir, trustDir: lab.trust, ...storeOpts });
  for (let i = 0; i < records; i++) {
    await store.append({
      type: 'event',
      tags: { run, ...tags },
      payload: { i, note: 'x'.repeat(40) },
    });
  }
  if (close) await store.close();
  else store.flushSync();
}

/** "Restart": open the store with the real writer and close it; the error code if refused. */
export async function restart(lab: Lab, dir: string): Promise<string> {
  try {
    const store = AuditStore.open({ dir, trustDir: lab.trust });
    await store.close();
    return 'opened';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

export interface Verdict {
  exit: number | null;
  codes: string[];
  warnings: string[];
  report: Record<string, unknown> | undefined;
  stdout: string;
  stderr: string;
}

export function cli(
  lab: Lab,
  args: string[],
): { exit: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: lab.root,
    env: { ...process.env, AGENT_AUDIT_TRUST_DIR: lab.trust, COLUMNS: '200', NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { exit: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function verify(lab: Lab, dir: string, extra: string[] = []): Verdict {
  const r = cli(lab, ['verify', '--store', dir, '--json', ...extra]);
  let report: Record<string, unknown> | undefined;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    report = undefined;
  }
  const codes = ((report?.problems as { code: string }[] | undefined) ?? []).map((p) => p.code);
  const warnings = ((report?.warnings as { code: string }[] | undefined) ?? []).map((p) => p.code);
  return { exit: r.exit, codes, warnings, report, stdout: r.stdout, stderr: r.stderr };
}

// ---- segment files -------------------------------------------------------------------------

export function segmentFiles(dir: string): string[] {
  const segDir = path.join(dir, 'segments');
  return fs
    .readdirSync(segDir)
    .filter((f) => /^\d{8}\.jsonl$/.test(f))
    .sort()
    .map((f) => path.join(segDir, f));
}

export function newestSegment(dir: string): string {
  const all = segmentFiles(dir);
  return all[all.length - 1] as string;
}

export function readRecords(file: string): Rec[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Rec);
}

export function allRecords(dir: string): Rec[] {
  return segmentFiles(dir).flatMap(readRecords);
}

/** RFC 8785 for the values we forge (ASCII keys, strings, integers, booleans, null). */
export function canon(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canon).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canon(obj[k])}`).join(',')}}`;
}

export const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/** The canonical line of a record (hash recomputed), without the trailing newline. */
export function line(rec: Omit<Rec, 'hash'>): { line: string; hash: string } {
  const { payload, prev, seq, tags, time, type } = rec;
  const body = canon({ payload, prev, seq, tags, time, type });
  const hash = sha256(body);
  return { line: `{"hash":"${hash}",${body.slice(1)}`, hash };
}

export function writable(file: string): void {
  if (fs.existsSync(file)) fs.chmodSync(file, 0o600);
}

/** Append records chained correctly after the newest record of the store. */
export function appendForged(
  dir: string,
  recs: { type: string; tags?: Record<string, string>; payload: unknown }[],
): Rec[] {
  const file = newestSegment(dir);
  const last = readRecords(file).at(-1) as Rec;
  let { seq, hash } = last;
  const out: Rec[] = [];
  let text = '';
  for (const r of recs) {
    seq += 1;
    const rec = {
      payload: r.payload,
      prev: hash,
      seq,
      tags: r.tags ?? {},
      time: new Date().toISOString(),
      type: r.type,
    };
    const l = line(rec);
    hash = l.hash;
    text += `${l.line}\n`;
    out.push({ ...rec, hash });
  }
  writable(file);
  fs.appendFileSync(file, text);
  return out;
}

/** Rewrite a single-segment file's records through `edit`, re-chaining everything. */
export function rechain(file: string, edit: (recs: Rec[]) => Rec[]): void {
  const recs = edit(readRecords(file));
  let prev = '0'.repeat(64);
  let first = true;
  let text = '';
  let seq = 0;
  for (const r of recs) {
    if (first) {
      prev = r.prev;
      seq = r.seq;
      first = false;
    }
    const l = line({ ...r, prev, seq });
    text += `${l.line}\n`;
    prev = l.hash;
    seq += 1;
  }
  writable(file);
  fs.writeFileSync(file, text);
}

export function truncateRecords(file: string, keep: number): void {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  writable(file);
  fs.writeFileSync(file, `${lines.slice(0, keep).join('\n')}\n`);
}

export function copyDir(from: string, to: string): void {
  fs.rmSync(to, { recursive: true, force: true });
  fs.cpSync(from, to, { recursive: true });
  for (const f of fs.readdirSync(path.join(to, 'segments'))) writable(path.join(to, 'segments', f));
}

// ---- a writer killed with SIGKILL ----------------------------------------------------------

/**
 * A real writer in a child process: `signed` events then flushSync (a checkpoint, anchored),
 * then `acked` more events each awaited (durable, acknowledged, witness updated, not yet
 * checkpointed), then SIGKILL.
 */
export async function killedWriter(lab: Lab, dir: string, signed = 3, acked = 4): Promise<void> {
  const script = path.join(lab.root, `writer-${path.basename(dir)}.mjs`);
  fs.writeFileSync(
    script,
    `import { AuditStore } from ${JSON.stringify(STORE_DIST)};
const s = AuditStore.open({ dir: ${JSON.stringify(dir)}, trustDir: ${JSON.stringify(lab.trust)},
  checkpointEveryRecords: 100000, checkpointIntervalMs: 3600000 });
for (let i = 0; i < ${signed}; i++) await s.append({ type: 'event', tags: { run: 'r1' }, payload: { i } });
s.flushSync();
for (let i = 0; i < ${acked}; i++) await s.append({ type: 'event', tags: { run: 'r1' }, payload: { acked: i } });
process.stdout.write('ready\\n');
setInterval(() => {}, 1000);
`,
  );
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`writer exited early (${code})`)));
  });
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGKILL');
  await exited;
}

// ---- the stores every attack starts from ----------------------------------------------

/** A cleanly closed store of `records` events. */
export async function closedStore(records = 5): Promise<{ lab: Lab; dir: string }> {
  const lab = makeLab();
  const dir = lab.dir('a');
  await writeStore(lab, dir, records);
  return { lab, dir };
}

/** A closed store of several sealed segments. */
export async function multiSegment(): Promise<{ lab: Lab; dir: string }> {
  const lab = makeLab();
  const dir = lab.dir('a');
  await writeStore(lab, dir, 60, { segmentMaxBytes: 4096 });
  if (segmentFiles(dir).length < 4) throw new Error('expected at least 4 segments');
  return { lab, dir };
}

/** A closed session, then a writer killed with SIGKILL (see killedWriter). */
export async function crashed(signed = 3, acked = 4): Promise<{ lab: Lab; dir: string }> {
  const lab = makeLab();
  const dir = lab.dir('a');
  await writeStore(lab, dir, 2); // an earlier clean session
  await killedWriter(lab, dir, signed, acked);
  return { lab, dir };
}
