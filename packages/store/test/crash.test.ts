/**
 * RELIABILITY rows 15 and 27 with real processes: a child writer is killed with SIGKILL at
 * random points while 20 producers append; two processes contend for one store.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { prng } from '../../../test/support/prng.js';
import { AuditStore, verifyStore } from '../src/index.js';
import { openStoreReader } from '../src/query.js';
import { encodeRecord } from '../src/record-format.js';
import {
  cleanupTempStores,
  expectCrashVerdict,
  newestSession,
  readLines,
  type TempStore,
  tempStore,
} from './helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/writer.mjs', import.meta.url));
const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));

let t: TempStore;
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0))
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  cleanupTempStores();
});

beforeAll(() => {
  if (!fs.existsSync(dist))
    throw new Error(`build the store first (pnpm exec tsc -b): ${dist} is missing`);
});

interface Child {
  proc: ChildProcess;
  acks: Map<number, string>;
  /** Ids of records whose append() had returned (mode `fire`). */
  ended: Set<number>;
  stderr: () => string;
  ready: Promise<number>;
  readyLine: Promise<string>;
  torn: Promise<void>;
  exited: Promise<number | null>;
}

function startWriter(
  mode: 'write' | 'write-rotating' | 'hold' | 'torn' | 'fire',
  payloadBytes = 20000,
  dir = t.dir,
): Child {
  const proc = spawn(process.execPath, [fixture, dir, t.trustDir, mode, String(payloadBytes)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(proc);
  const acks = new Map<number, string>();
  const ended = new Set<number>();
  let err = '';
  let buffered = '';
  let onReady: (pid: number) => void;
  let onTorn: () => void;
  let onReadyLine: (line: string) => void;
  const readyLine = new Promise<string>((resolve) => {
    onReadyLine = resolve;
  });
  const torn = new Promise<void>((resolve) => {
    onTorn = resolve;
  });
  const ready = new Promise<number>((resolve) => {
    onReady = resolve;
  });
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl = buffered.indexOf('\n');
    while (nl >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const [word, a, b] = line.split(' ');
      if (word === 'ready') {
        onReady(Number(a));
        onReadyLine(`${a} ${b}`);
      }
      if (word === 'ack') acks.set(Number(a), b!);
      if (word === 'ended') ended.add(Number(a));
      if (word === 'torn') onTorn();
      nl = buffered.indexOf('\n');
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  // 'close' rather than 'exit': every line the child wrote has then been read.
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  return { proc, acks, ended, stderr: () => err, ready, readyLine, exited, torn };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('row 15: kill -9 mid-write', () => {
  it('every acknowledged record survives, a torn tail is set aside with a recovery record, verify 0 (10 random kills)', async () => {
    t = tempStore();
    const rand = prng(15);
    let recoveries = 0;
    const confirmed = new Map<number, string>();
    for (let round = 0; round < 10; round++) {
      const child = startWriter('write', 20000 + Math.floor(rand() * 60000));
      await child.ready;
      await sleep(100 + Math.floor(rand() * 400));
      child.proc.kill('SIGKILL');
      await child.exited;
      for (const [seq, hash] of child.acks) confirmed.set(seq, hash);
      // Reopen as the next writer would: recovery happens here.
      const notices: string[] = [];
      const store = t.open({ onNotice: (n) => notices.push(n.code) });
      if (notices.includes('RECOVERED_TAIL')) recoveries += 1;
      await store.close();
      // What the reopen signs as unattested lies wholly after what the child acknowledged.
      const session = newestSession(t.dir)!;
      expect(session.previous).toBe('crashed');
      const lastAck = Math.max(0, ...child.acks.keys());
      expect(session.attested.seq).toBeGreaterThanOrEqual(lastAck);
      if (session.unattested) expect(session.unattested.fromSeq).toBeGreaterThan(lastAck);
    }
    expect(confirmed.size).toBeGreaterThan(0);
    const reader = openStoreReader(t.dir, { index: false });
    const present = new Map<number, string>();
    for (let seq = 1; ; ) {
      const batch = reader.recordsFrom(seq, 5000);
      if (batch.length === 0) break;
      for (const r of batch) present.set(r.seq, r.hash);
      seq = batch.at(-1)!.seq + 1;
    }
    for (const [seq, hash] of confirmed)
      expect(present.get(seq), `acknowledged seq ${seq}`).toBe(hash);
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expectCrashVerdict(report, t.dir, []);
    expect(report.recoveries.length).toBe(recoveries);
    for (const r of report.recoveries) {
      const kept = fs.readFileSync(path.join(t.dir, r.file));
      expect(kept.length).toBe(r.length);
    }
  }, 180_000);

  it('every record survives a kill -9 once in the file: intents when append() returns, span ends when their microtask ends, unawaited (16 random kills)', async () => {
    t = tempStore();
    const rand = prng(4);
    const ended = new Map<number, Set<number>>();
    for (let round = 0; round < 16; round++) {
      const child = startWriter('fire', 200 + Math.floor(rand() * 2000));
      await child.ready;
      await sleep(150 + Math.floor(rand() * 500));
      child.proc.kill('SIGKILL');
      await child.exited;
      expect(child.stderr()).toBe('');
      ended.set(child.proc.pid!, child.ended);
      // Reopen as the restarted agent would: recovery happens here.
      await t.open().close();
    }
    const present = new Map<number, Set<number>>();
    const reader = openStoreReader(t.dir, { index: false });
    for (let seq = 1; ; ) {
      const batch = reader.recordsFrom(seq, 5000);
      if (batch.length === 0) break;
      for (const r of batch) {
        if (r.tags.run !== 'fire') continue;
        const { pid, id } = r.payload as { pid: number; id: number };
        if (!present.has(pid)) present.set(pid, new Set());
        present.get(pid)!.add(id);
      }
      seq = batch.at(-1)!.seq + 1;
    }
    reader.close();
    const missing: string[] = [];
    let total = 0;
    for (const [pid, ids] of ended) {
      total += ids.size;
      const lost = [...ids].filter((id) => !present.get(pid)?.has(id));
      if (lost.length > 0) missing.push(`pid ${pid}: ${lost.length} of ${ids.size} lost`);
    }
    expect(total).toBeGreaterThan(1000);
    expect(missing).toEqual([]);
    // Records were also written around seals (the fixture rotates every 400 KB).
    expect(
      fs.readdirSync(path.join(t.dir, 'segments')).filter((f) => f.endsWith('.jsonl')).length,
    ).toBeGreaterThan(2);
    // Records in the file but never acknowledged (no fdatasync yet) are signed as unattested.
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expectCrashVerdict(report, t.dir, []);
  }, 180_000);

  it('killed inside a record write: the half record is set aside, acknowledged records kept, verify 0', async () => {
    t = tempStore();
    const child = startWriter('torn', 30000);
    await child.torn;
    child.proc.kill('SIGKILL');
    await child.exited;
    const segment = path.join(t.dir, 'segments', '00000001.jsonl');
    expect(fs.readFileSync(segment).at(-1)).not.toBe(0x0a);
    const notices: string[] = [];
    const store = t.open({ onNotice: (n) => notices.push(n.code) });
    await store.close();
    expect(notices).toContain('RECOVERED_TAIL');
    const reader = openStoreReader(t.dir, { index: false });
    const present = new Map(reader.recordsFrom(1, 100_000).map((r) => [r.seq, r.hash]));
    expect(child.acks.size).toBeGreaterThan(0);
    for (const [seq, hash] of child.acks) expect(present.get(seq)).toBe(hash);
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expectCrashVerdict(report, t.dir, [...child.acks.keys()]);
    expect(report.recoveries).toHaveLength(1);
    expect(report.recoveries[0]!.reason).toBe('torn-tail');
  });

  it('a torn last line is moved aside, never deleted, and named by a chained recovery record', async () => {
    t = tempStore();
    const store = t.open();
    await store.append({ type: 'event', tags: { run: 'r' }, payload: { ok: true } });
    store.flushSync();
    // The writer dies; half a record is left at the end of the segment.
    const file = path.join(t.dir, 'segments', '00000001.jsonl');
    const torn = '{"hash":"abc","payload":{"half":';
    fs.appendFileSync(file, torn);
    fs.rmSync(path.join(t.dir, 'store.lock'), { force: true });
    fs.writeFileSync(path.join(t.dir, 'store.lock'), '4194305\n');
    const before = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expect(before.exitCode).toBe(2);
    expect(before.problems.map((p) => p.code)).toContain('TORN_TAIL');
    const reopened = t.open();
    await reopened.close();
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expect(report.exitCode).toBe(0);
    expect(report.recoveries).toHaveLength(1);
    const rec = report.recoveries[0]!;
    expect(rec.length).toBe(Buffer.byteLength(torn));
    expect(fs.readFileSync(path.join(t.dir, rec.file), 'utf8')).toBe(torn);
    expect(fs.readFileSync(file, 'utf8')).not.toContain(torn);
  });

  it('a torn line that is not the last one is tampering', async () => {
    t = tempStore();
    const store = t.open();
    for (let i = 0; i < 5; i++) await store.append({ type: 'event', payload: { i } });
    await store.close();
    const file = path.join(t.dir, 'segments', '00000001.jsonl');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[3] = lines[3]!.slice(0, 40);
    fs.chmodSync(file, 0o644);
    fs.writeFileSync(file, lines.join('\n'));
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expect(report.exitCode).toBe(1);
    expect(report.problems[0]).toMatchObject({ code: 'RECORD_MALFORMED', seq: 4 });
  });
});

describe('kill -9, then an attacker extends the chain before the restart', () => {
  it('the records found after what the killed writer acknowledged are signed as unattested, and verify says so (exit 2, never 0)', async () => {
    t = tempStore();
    const child = startWriter('write', 4000);
    await child.ready;
    while (child.acks.size < 20) await sleep(20);
    child.proc.kill('SIGKILL');
    await child.exited;
    const lastAck = [...child.acks.keys()].reduce((max, seq) => Math.max(max, seq), 0);
    // The attacker cuts any torn tail and appends correctly chained records.
    const file = path.join(
      t.dir,
      'segments',
      fs
        .readdirSync(path.join(t.dir, 'segments'))
        .filter((f) => f.endsWith('.jsonl'))
        .sort()
        .at(-1)!,
    );
    const text = fs.readFileSync(file);
    fs.truncateSync(file, text.lastIndexOf(0x0a) + 1);
    let prev = JSON.parse(readLines(file).at(-1)!) as { seq: number; hash: string };
    const forged: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = encodeRecord(
        prev.hash,
        prev.seq + 1,
        new Date().toISOString(),
        'span.end',
        '{"run":"w0"}',
        JSON.stringify({ forged: i }),
      );
      fs.appendFileSync(file, r.line);
      forged.push(r.seq);
      prev = r;
    }
    fs.rmSync(path.join(t.dir, 'store.lock'), { force: true });
    const before = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expect(before.exitCode).toBe(2);
    const notices: string[] = [];
    await t.open({ onNotice: (n) => notices.push(n.code) }).close();
    expect(notices).toContain('RECOVERED_UNATTESTED');
    const session = newestSession(t.dir)!;
    expect(session.previous).toBe('crashed');
    expect(session.unattested).not.toBeNull();
    expect(session.unattested!.fromSeq).toBeGreaterThan(lastAck);
    expect(session.unattested!.fromSeq).toBeLessThanOrEqual(forged[0]!);
    expect(session.unattested!.toSeq).toBe(forged.at(-1));
    // Before and after another restart: exit 2 naming the range, never 0.
    for (let round = 0; round < 2; round++) {
      const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
      expect(report.exitCode).toBe(2);
      expect(report.problems.map((p) => p.code)).toEqual(['RECOVERED_UNATTESTED']);
      expect(report.problems[0]!.message).toContain(String(forged.at(-1)));
      await t.open().close();
    }
  }, 60_000);
});

describe('verify and queries while another process writes', () => {
  it('a live store is never reported as tampered (exit 0 or 2 only), across rotations', async () => {
    t = tempStore();
    const child = startWriter('write-rotating', 3000);
    await child.ready;
    const seen = new Set<number>();
    for (let i = 0; i < 12; i++) {
      await sleep(60);
      const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
      seen.add(report.exitCode);
      expect(
        report.problems.filter((p) => p.kind === 'tampering'),
        `round ${i}`,
      ).toEqual([]);
      expect([0, 2]).toContain(report.exitCode);
      // A fresh reader each round: its first query holds the index against a scan while the
      // writer appends; records written after the index caught up are not a disagreement.
      const warnings: string[] = [];
      const reader = openStoreReader(t.dir, { onWarning: (w) => warnings.push(w.message) });
      expect(reader.runRecords('w3').every((r) => r.tags.run === 'w3')).toBe(true);
      // A run list reads every record: only while the store is still small.
      if (i < 3) expect(reader.listRuns({}).length).toBeGreaterThan(0);
      reader.close();
      expect(warnings, `round ${i}`).toEqual([]);
    }
    child.proc.kill('SIGKILL');
    await child.exited;
    expect(
      fs.readdirSync(path.join(t.dir, 'segments')).filter((f) => f.endsWith('.jsonl')).length,
    ).toBeGreaterThan(1);
    await t.open().close();
    expectCrashVerdict(await verifyStore({ dir: t.dir, trustDir: t.trustDir }), t.dir, [
      ...child.acks.keys(),
    ]);
  }, 240_000);
});

describe('two writer processes on two stores sharing one trust directory', () => {
  it('interleave their anchor lines without garbling them; both stores verify', async () => {
    t = tempStore();
    const dirs = [`${t.dir}-a`, `${t.dir}-b`];
    const children = dirs.map((dir) => startWriter('write', 2000, dir));
    await Promise.all(children.map((c) => c.ready));
    await sleep(800);
    for (const c of children) c.proc.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    for (const dir of dirs) await AuditStore.open({ dir, trustDir: t.trustDir }).close();
    const lines = fs.readFileSync(t.anchorPath, 'utf8').split('\n').filter(Boolean);
    const origins = new Set(lines.map((l) => (JSON.parse(l) as { origin: string }).origin));
    expect(origins.size).toBe(2);
    for (const [i, dir] of dirs.entries()) {
      const report = await verifyStore({ dir, trustDir: t.trustDir });
      // Not garbled: no malformed anchor line. A kill -9 between a checkpoint's fdatasync and
      // its checkpoint-log append can leave that one line out (a warning verify names).
      expect(report.warnings.filter((w) => w.code !== 'CHECKPOINT_LOG_INCOMPLETE')).toEqual([]);
      expectCrashVerdict(report, dir, [...children[i]!.acks.keys()]);
    }
  }, 60_000);
});

describe('first start of several processes on a fresh trust directory', () => {
  it('they agree on one generated key pair (no half-written key is ever read)', async () => {
    for (let round = 0; round < 3; round++) {
      t?.cleanup();
      t = tempStore();
      const keyIds = await Promise.all(
        [0, 1, 2].map(async (k) => {
          const child = startWriter('hold', 0, `${t.dir}-${k}`);
          const line = await child.readyLine;
          child.proc.kill('SIGKILL');
          await child.exited;
          return line.split(' ')[1];
        }),
      );
      expect(new Set(keyIds).size, `round ${round}: ${keyIds.join(', ')}`).toBe(1);
      expect(keyIds[0]).toMatch(/^ed25519:/);
    }
  });
});

describe('row 27: two processes open one store for writing', () => {
  it('the second gets "store locked by pid N"; a lock left by kill -9 is released', async () => {
    t = tempStore();
    const holder = startWriter('hold');
    const pid = await holder.ready;
    expect(() => t.open()).toThrow(`store locked by pid ${pid}`);
    const second = startWriter('hold');
    expect(await second.exited).toBe(3);
    expect(second.stderr()).toContain(`STORE_LOCKED: store locked by pid ${pid}`);
    holder.proc.kill('SIGKILL');
    await holder.exited;
    const store = t.open();
    await store.append({ type: 'event', payload: { after: 'takeover' } });
    await store.close();
    expect((await verifyStore({ dir: t.dir, trustDir: t.trustDir })).exitCode).toBe(0);
  });
});
