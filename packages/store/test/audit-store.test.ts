import { createPublicKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AuditStore,
  nodeFsLayer,
  openSegmentReader,
  StoreError,
  verifyStore,
} from '../src/index.js';
import { openStoreReader } from '../src/query.js';
import { verifyStatementSignature } from '../src/signed-statement.js';
import {
  cleanupTempStores,
  readLines,
  segmentPath,
  span,
  type TempStore,
  tempStore,
} from './helpers.js';

let t: TempStore;
afterEach(cleanupTempStores);

describe('AuditStore writer', () => {
  it('creates the store, generates a key pair once and reports it through onNotice', async () => {
    t = tempStore();
    const notices: string[] = [];
    const store = t.open({ onNotice: (n) => notices.push(n.code) });
    expect(fs.existsSync(path.join(t.trustDir, 'signing-key.pem'))).toBe(true);
    expect(fs.existsSync(path.join(t.trustDir, 'public-key.pem'))).toBe(true);
    expect(notices).toEqual(['KEY_GENERATED']);
    await store.close();
    const again = t.open({ onNotice: (n) => notices.push(n.code) });
    await again.close();
    expect(notices).toEqual(['KEY_GENERATED']);
  });

  it('resolves appends with increasing seq and the hash written on disk', async () => {
    t = tempStore();
    const store = t.open();
    const a = await store.append(span('run-1', 1));
    const b = await store.append(span('run-1', 2));
    expect(b.seq).toBe(a.seq + 1);
    await store.close();
    const lines = readLines(segmentPath(t.dir, 1));
    const recordA = JSON.parse(lines.find((l) => l.includes(a.hash))!);
    expect(recordA.seq).toBe(a.seq);
    expect(recordA.hash).toBe(a.hash);
    const recordB = JSON.parse(lines.find((l) => l.includes(`"hash":"${b.hash}"`))!);
    expect(recordB.prev).toBe(a.hash);
  });

  it('lines are canonical JSON that starts with the hash member', async () => {
    t = tempStore();
    const store = t.open();
    await store.append({
      type: 'event',
      tags: { run: 'r' },
      payload: { b: 1, a: [true, null, 'é'] },
    });
    await store.close();
    for (const line of readLines(segmentPath(t.dir, 1))) {
      expect(line.startsWith('{"hash":"')).toBe(true);
      const value = JSON.parse(line);
      expect(Object.keys(value)).toEqual([
        'hash',
        'payload',
        'prev',
        'seq',
        'tags',
        'time',
        'type',
      ]);
    }
    expect(readLines(segmentPath(t.dir, 1))[1]).toContain('"payload":{"a":[true,null,"é"],"b":1}');
  });

  it('writes tags in canonical order whatever order they come in', async () => {
    t = tempStore();
    const store = t.open();
    await store.append({
      type: 'event',
      tags: { run: 'r', agent: 'a', 10: 'x', 9: 'y', tool: undefined },
      payload: {},
    });
    await store.append({ type: 'event', tags: { agent: 'a', run: 'r' }, payload: {} });
    await store.close();
    const lines = readLines(segmentPath(t.dir, 1));
    expect(lines[1]).toContain('"tags":{"10":"x","9":"y","agent":"a","run":"r"}');
    expect(lines[2]).toContain('"tags":{"agent":"a","run":"r"}');
    expect((await verifyStore({ dir: t.dir, trustDir: t.trustDir })).exitCode).toBe(0);
  });

  it('escapes tag values exactly as RFC 8785 does (quotes, controls, surrogates)', async () => {
    t = tempStore();
    const store = t.open();
    const values = [
      'plain-run:1',
      'quo"te',
      'back\\slash',
      'tab\there',
      '\u0000',
      'é日本',
      '😀',
      '\ud800',
      'x\udc00y',
      '\u2028',
    ];
    for (const v of values) await store.append({ type: 'event', tags: { run: v }, payload: {} });
    await store.close();
    const lines = readLines(segmentPath(t.dir, 1)).slice(1, 1 + values.length);
    values.forEach((v, i) => {
      expect(lines[i]).toContain(`"tags":{"run":${JSON.stringify(v)}}`);
    });
    expect((await verifyStore({ dir: t.dir, trustDir: t.trustDir })).exitCode).toBe(0);
  });

  it('group commit: 50 concurrent appenders share fdatasyncs and keep a strict sequence', async () => {
    t = tempStore();
    let syncs = 0;
    const { nodeFsLayer } = await import('../src/index.js');
    const store = t.open({
      fs: {
        ...nodeFsLayer,
        fdatasync: (fd) => {
          syncs += 1;
          return nodeFsLayer.fdatasync(fd);
        },
      },
    });
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, w) => {
        const out = [];
        for (let i = 0; i < 20; i++) out.push(await store.append(span(`run-${w}`, i)));
        return out;
      }),
    );
    await store.close();
    const seqs = results.flat().map((r) => r.seq);
    expect(new Set(seqs).size).toBe(1000);
    // 1000 records; one fdatasync each would be 1000.
    expect(syncs).toBeLessThan(200);
    const reader = openStoreReader(t.dir);
    expect(reader.runRecords('run-7').map((r) => r.tags.span)).toEqual(
      Array.from({ length: 20 }, (_, i) => `s${i}`),
    );
  });

  it('appendBatch writes records in order in one commit', async () => {
    t = tempStore();
    const store = t.open();
    const results = await store.appendBatch([span('b', 1), span('b', 2), span('b', 3)]);
    expect(results.map((r) => r.seq)).toEqual([
      results[0]!.seq,
      results[0]!.seq + 1,
      results[0]!.seq + 2,
    ]);
    await store.close();
  });

  it('rejects entries that cannot be stored, without breaking the store', async () => {
    t = tempStore();
    const store = t.open();
    await expect(store.append({ type: 'span.end', payload: { n: 10n } })).rejects.toThrow(
      /canonical/,
    );
    await expect(store.append({ type: 'checkpoint' as never, payload: {} })).rejects.toThrow(
      /Configuration: entry.type/,
    );
    await expect(
      store.append({ type: 'event', tags: { run: 5 as never }, payload: {} }),
    ).rejects.toThrow(/entry.tags.run is invalid/);
    await expect(store.append(span('ok', 1))).resolves.toMatchObject({ seq: expect.any(Number) });
    await store.close();
  });

  it('onAppend is told about new durable records', async () => {
    t = tempStore();
    const store = t.open();
    const heads: number[] = [];
    const off = store.onAppend((h) => heads.push(h.seq));
    const r = await store.append(span('x', 1));
    expect(heads).toContain(r.seq);
    off();
    await store.close();
  });

  it('close is idempotent and writes a final signed checkpoint; appends after close are refused', async () => {
    t = tempStore();
    const store = t.open();
    await store.append(span('c', 1));
    await Promise.all([store.close(), store.close()]);
    await store.close();
    const last = JSON.parse(readLines(segmentPath(t.dir, 1)).at(-1)!);
    expect(last.type).toBe('checkpoint');
    expect(fs.existsSync(path.join(t.dir, 'store.lock'))).toBe(false);
    await expect(store.append(span('c', 2))).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    const anchor = readLines(t.anchorPath).map((l) => JSON.parse(l));
    expect(anchor.at(-1).size).toBe(last.seq - 1);
    expect(anchor.at(-1).head).toBe(last.prev);
  });

  it('a clean close is attested (signed store.close + checkpoint); a reopen writes a signed session.open saying so', async () => {
    t = tempStore();
    const store = t.open();
    await store.append(span('quiet', 1));
    await store.close();
    const publicKey = createPublicKey(fs.readFileSync(path.join(t.trustDir, 'public-key.pem')));
    const closed = readLines(segmentPath(t.dir, 1)).map((l) => JSON.parse(l));
    const [close, cp] = closed.slice(-2);
    expect(close.type).toBe('store.close');
    expect(close.payload).toMatchObject({
      origin: store.origin,
      keyId: store.keyId,
      lastSeq: close.seq - 1,
      lastHash: close.prev,
    });
    expect(verifyStatementSignature(close.payload, publicKey)).toBe(true);
    expect(cp.type).toBe('checkpoint');
    expect(cp.payload.size).toBe(close.seq);
    expect(JSON.parse(readLines(t.anchorPath).at(-1)!).size).toBe(close.seq);

    await t.open().close();
    const after = readLines(segmentPath(t.dir, 1))
      .map((l) => JSON.parse(l))
      .slice(closed.length);
    expect(after.map((r) => r.type)).toEqual([
      'session.open',
      'checkpoint',
      'store.close',
      'checkpoint',
    ]);
    const session = after[0].payload;
    expect(session).toMatchObject({
      origin: store.origin,
      after: { seq: cp.seq, hash: cp.hash },
      previous: 'closed',
      unattested: null,
    });
    expect(session.attested.seq).toBeGreaterThanOrEqual(close.seq);
    expect(verifyStatementSignature(session, publicKey)).toBe(true);
    expect(after[1].payload.size).toBe(after[0].seq);
  });

  it('signs a checkpoint every N records', async () => {
    t = tempStore();
    const store = t.open({ checkpointEveryRecords: 10 });
    for (let i = 0; i < 35; i++) await store.append(span('n', i));
    const checkpoints = readLines(segmentPath(t.dir, 1)).filter((l) =>
      l.endsWith('"type":"checkpoint"}'),
    );
    expect(checkpoints.length).toBeGreaterThanOrEqual(3);
    await store.close();
  });

  it('signs a checkpoint after checkpointIntervalMs while records arrive', async () => {
    t = tempStore();
    const store = t.open({ checkpointIntervalMs: 20 });
    await store.append(span('timer', 1));
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !fs.existsSync(t.anchorPath)) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(readLines(t.anchorPath).length).toBeGreaterThan(0);
    await store.close();
  });

  it('flushSync makes queued records durable and signed without an event-loop turn', async () => {
    t = tempStore();
    const store = t.open();
    const pending = store.append(span('sync', 1));
    store.flushSync();
    const lines = readLines(segmentPath(t.dir, 1));
    expect(lines.some((l) => l.includes('"run":"sync"'))).toBe(true);
    expect(JSON.parse(lines.at(-1)!).type).toBe('checkpoint');
    await expect(pending).resolves.toMatchObject({ seq: 2 });
    store.closeSync();
    expect((await verifyStore({ dir: t.dir, trustDir: t.trustDir })).exitCode).toBe(0);
  });

  it('flushSync while a group commit waits for its fdatasync (exit during a commit)', async () => {
    t = tempStore();
    let held = false;
    const store = t.open({
      fs: {
        ...nodeFsLayer,
        // The asynchronous sync never returns, as when the process exits mid-commit.
        fdatasync: () => {
          held = true;
          return new Promise<void>(() => {});
        },
      },
    });
    const first = store.append(span('exit', 1));
    while (!held) await new Promise((r) => setTimeout(r, 5));
    const second = store.append(span('exit', 2));
    store.closeSync();
    await expect(first).resolves.toMatchObject({ seq: 2 });
    await expect(second).resolves.toMatchObject({ seq: 3 });
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expect(report.problems).toEqual([]);
    expect(report.exitCode).toBe(0);
    expect(report.records).toBe(5); // header, 2 spans, store.close, checkpoint
  });

  it('validates options with the house error format', () => {
    t = tempStore();
    expect(() => t.open({ checkpointEveryRecords: 0 })).toThrow(
      'Configuration: checkpointEveryRecords is invalid, expected a positive integer (actual: 0)',
    );
    expect(() => t.open({ signingKey: 'not a key' })).toThrow(
      /Configuration: signingKey is invalid/,
    );
  });
});

describe('segment rotation', () => {
  it('seals by age as well as by size, and the reader head follows', async () => {
    t = tempStore();
    let clock = Date.parse('2026-03-01T00:00:00Z');
    const store = t.open({ now: () => new Date(clock), segmentMaxAgeMs: 60_000 });
    await store.append(span('age', 1));
    expect(store.segment).toBe(1);
    clock += 61_000;
    const r = await store.append(span('age', 2));
    expect(store.segment).toBe(2);
    const reader = openStoreReader(t.dir, { index: false });
    expect(reader.head()).toEqual(store.head);
    expect(reader.recordsFrom(r.seq, 1)[0]!.segment).toBe(1);
    await store.close();
    expect(readLines(segmentPath(t.dir, 1)).at(-1)).toContain('"type":"segment.seal"');
    expect(reader.head()!.seq).toBe(store.head.seq);
  });
});

describe('record tags', () => {
  it('writes canonical tags for key lists that alternate and change (the key-order memo)', async () => {
    t = tempStore();
    const store = t.open();
    // More distinct key lists than the memo keeps, in several insertion orders, revisited.
    const lists: Array<Record<string, string>> = [
      { run: 'r', span: 's1', agent: 'a', trace: 't' },
      { run: 'r', span: 's1', agent: 'a', trace: 't', status: 'ok' },
      { trace: 't', agent: 'a', span: 's2', run: 'r' },
      { zeta: 'z', alpha: 'q"uote' },
      { b: '1', a: '2', c: '3' },
      { tool: 'x', parent: 'p', principal: 'u:1', tenant: 'n', run: 'r', span: 's', trace: 't' },
    ];
    const order = [0, 1, 0, 1, 2, 3, 4, 5, 0, 1, 5, 4, 3, 2, 1, 0];
    for (const i of order) await store.append({ type: 'event', tags: lists[i]!, payload: i });
    await store.close();
    const written = readLines(segmentPath(t.dir, 1))
      .map((l) => JSON.parse(l) as { type: string; tags: Record<string, string> })
      .filter((r) => r.type === 'event');
    expect(written.length).toBe(order.length);
    const lines = readLines(segmentPath(t.dir, 1)).filter((l) => l.endsWith('"type":"event"}'));
    order.forEach((i, k) => {
      const tags = lists[i]!;
      const sorted = Object.keys(tags).sort();
      const canonical = `{${sorted.map((key) => `${JSON.stringify(key)}:${JSON.stringify(tags[key])}`).join(',')}}`;
      expect(lines[k]).toContain(`"tags":${canonical},"time":`);
    });
    expect((await verifyStore({ dir: t.dir, trustDir: t.trustDir })).exitCode).toBe(0);
  });
});

describe('segment reader batches (the forwarder cursor read)', () => {
  it('rawRecordsFrom gives the stored payload bytes, batch by batch, and refuses a rewritten record before and after a restart', async () => {
    t = tempStore();
    let clock = Date.parse('2026-03-01T00:00:00Z');
    const store = t.open({ now: () => new Date(clock), segmentMaxAgeMs: 60_000 });
    for (let i = 1; i <= 7; i++) await store.append(span('batch', i));
    clock += 61_000;
    for (let i = 8; i <= 12; i++) await store.append(span('batch', i));
    expect(store.segment).toBe(2);
    const reader = openSegmentReader(t.dir);
    const all = reader.recordsFrom(0, 10_000);
    // Batches of 3 (stopping at the limit, resuming where the last stopped) see the same records.
    const raw: ReturnType<NonNullable<typeof reader.rawRecordsFrom>> = [];
    for (let next = 0; ; ) {
      const batch = reader.rawRecordsFrom!(next, 3);
      if (batch.length === 0) break;
      expect(batch.length).toBeLessThanOrEqual(3);
      raw.push(...batch);
      next = batch.at(-1)!.seq + 1;
    }
    expect(raw.map((r) => [r.seq, r.type, r.segment, r.offset, r.length])).toEqual(
      all.map((r) => [r.seq, r.type, r.segment, r.offset, r.length]),
    );
    const lines = [...readLines(segmentPath(t.dir, 1)), ...readLines(segmentPath(t.dir, 2))];
    for (const r of raw) {
      expect(JSON.parse(r.payloadJson)).toEqual(all.find((a) => a.seq === r.seq)!.payload);
      // The exact stored text: the line holds `"payload":<payloadJson>,"prev":`.
      expect(lines.some((l) => l.includes(`"payload":${r.payloadJson},"prev":`))).toBe(true);
    }
    // A batch that ends before the last record stops there: limit 1 from every seq.
    for (const r of all)
      expect(reader.rawRecordsFrom!(r.seq, 1).map((x) => x.seq)).toEqual([r.seq]);

    // Rewrite a payload in place (same length): the raw read refuses it like the parsed one.
    const victim = all.find((r) => r.type === 'span.end' && r.segment === 2)!;
    const file = segmentPath(t.dir, 2);
    const text = fs.readFileSync(file, 'utf8');
    const at = text.indexOf('"batch"', victim.offset);
    expect(at).toBeGreaterThan(victim.offset);
    fs.writeFileSync(file, `${text.slice(0, at)}"bztch"${text.slice(at + 7)}`);
    const fresh = openSegmentReader(t.dir);
    expect(() => fresh.rawRecordsFrom!(victim.seq, 5)).toThrow(/RECORD_HASH_MISMATCH|tampered/);
    expect(() => fresh.recordsFrom(victim.seq, 5)).toThrow(/tampered/);
    await store.close().catch(() => undefined);
    // A writer restart refuses the damaged store; the raw read still refuses the record after it.
    expect(() => t.open({ now: () => new Date(clock) })).toThrow(/damaged record/);
    expect(() => openSegmentReader(t.dir).rawRecordsFrom!(victim.seq, 5)).toThrow(/tampered/);
    expect(() => openSegmentReader(t.dir).rawRecordsFrom!(0, 10_000)).toThrow(/tampered/);
  });
});

describe('single writer lock (RELIABILITY row 27, same process)', () => {
  it('a second writer gets "store locked by pid N"', async () => {
    t = tempStore();
    const store = t.open();
    let error: unknown;
    try {
      t.open();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('STORE_LOCKED');
    expect((error as Error).message).toContain(`store locked by pid ${process.pid}`);
    await store.close();
    const reopened = t.open();
    await reopened.close();
  });

  it('a lock left by a dead process is taken over', async () => {
    t = tempStore();
    (await t.open()).close();
    // A pid that cannot be alive: above the kernel's pid_max.
    fs.writeFileSync(path.join(t.dir, 'store.lock'), '4194305\n');
    const store = t.open();
    expect(fs.readFileSync(path.join(t.dir, 'store.lock'), 'utf8').split(' ')[0]).toBe(
      String(process.pid),
    );
    await store.close();
  });

  it('a stale lock naming our own pid but another process start (container restart) is taken over', async () => {
    t = tempStore();
    await t.open().close();
    fs.writeFileSync(path.join(t.dir, 'store.lock'), `${process.pid} 1\n`);
    const store = t.open();
    await store.close();
  });
});

describe('AuditStore.open misc', () => {
  it('refuses to generate a new key next to a pinned public key without its private key', async () => {
    t = tempStore();
    fs.mkdirSync(t.trustDir, { recursive: true });
    const { generateSigningKeyPair } = await import('../src/index.js');
    fs.writeFileSync(
      path.join(t.trustDir, 'public-key.pem'),
      generateSigningKeyPair().publicKeyPem,
    );
    expect(() => t.open()).toThrow(expect.objectContaining({ code: 'KEY_MISSING' }));
    expect(fs.existsSync(path.join(t.dir, 'store.lock'))).toBe(false);
  });

  it('uses the given signing key and never writes it into the store', async () => {
    t = tempStore();
    const { generateSigningKeyPair } = await import('../src/index.js');
    const pair = generateSigningKeyPair();
    const store = AuditStore.open({
      dir: t.dir,
      anchorPath: t.anchorPath,
      signingKey: pair.privateKeyPem,
    });
    expect(store.keyId).toBe(pair.keyId);
    await store.append(span('k', 1));
    await store.close();
    expect(fs.existsSync(path.join(t.trustDir, 'signing-key.pem'))).toBe(false);
    const report = await verifyStore({
      dir: t.dir,
      publicKey: pair.publicKeyPem,
      anchorPath: t.anchorPath,
    });
    expect(report.exitCode).toBe(0);
  });
});
