/**
 * RELIABILITY rows 16–19: durability ordering, disk full, read-only / permission denied, and
 * fsync EIO. Real read-only mounts and real permission errors are used through child
 * processes where the machine allows it (unshare, setpriv); ENOSPC and EIO are injected
 * through the writer's fs layer because they cannot be produced on demand.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { noFollow } from '../src/fs-layer.js';
import { type FsLayer, nodeFsLayer, type StoreError, verifyStore } from '../src/index.js';
import { openStoreReader } from '../src/query.js';
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

function errno(code: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: injected`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

/** An fs layer that logs the durability-relevant calls with the paths they touch. */
function loggingLayer(log: string[]): FsLayer {
  const paths = new Map<number, string>();
  return {
    ...nodeFsLayer,
    openSync(p, flags, mode) {
      const fd = nodeFsLayer.openSync(p, flags, mode);
      paths.set(fd, p);
      log.push(`open ${p} ${String(flags)}`);
      return fd;
    },
    fsyncSync(fd) {
      log.push(`fsync ${paths.get(fd)}`);
      nodeFsLayer.fsyncSync(fd);
    },
    fdatasyncSync(fd) {
      log.push(`fdatasync ${paths.get(fd) ?? fd}`);
      nodeFsLayer.fdatasyncSync(fd);
    },
    writeSync(fd, b, o, l, p) {
      log.push(`write ${paths.get(fd) ?? fd}`);
      return nodeFsLayer.writeSync(fd, b, o, l, p);
    },
    async fdatasync(fd) {
      log.push(`fdatasync ${paths.get(fd) ?? fd}`);
      return nodeFsLayer.fdatasync(fd);
    },
  };
}

describe('row 16: power loss — nothing is acknowledged before it is synced', () => {
  it('append resolves only after the fdatasync that covers it completes', async () => {
    t = tempStore();
    let release!: () => void;
    let held = false;
    const store = t.open({
      fs: {
        ...nodeFsLayer,
        fdatasync: async (fd) => {
          if (!held) {
            held = true;
            await new Promise<void>((r) => {
              release = r;
            });
          }
          return nodeFsLayer.fdatasync(fd);
        },
      },
    });
    let settled = false;
    const pending = store.append(span('p', 1)).then(() => {
      settled = true;
    });
    while (!held) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    // The bytes are written, but not synced: not acknowledged.
    expect(fs.readFileSync(segmentPath(t.dir, 1), 'utf8')).toContain('"run":"p"');
    expect(settled).toBe(false);
    release();
    await pending;
    expect(settled).toBe(true);
    await store.close();
  });

  it('new segments, recovered files, anchors and the lock are followed by an fsync of their directory', async () => {
    t = tempStore();
    const log: string[] = [];
    const store = t.open({ fs: loggingLayer(log), segmentMaxBytes: 2000 });
    for (let i = 0; i < 20; i++) await store.append(span('d', i));
    await store.close();
    const seg2 = segmentPath(t.dir, 2);
    const created = log.indexOf(`open ${seg2} ${noFollow('wx')}`);
    expect(created).toBeGreaterThan(-1);
    const after = log.slice(created);
    expect(after.indexOf(`fdatasync ${seg2}`)).toBeGreaterThan(-1);
    expect(after.indexOf(`fsync ${path.join(t.dir, 'segments')}`)).toBeGreaterThan(
      after.indexOf(`fdatasync ${seg2}`),
    );
    expect(log).toContain(`fsync ${t.trustDir}`);
    // The seal is synced before the next segment exists.
    const sealSync = log.lastIndexOf(`fdatasync ${segmentPath(t.dir, 1)}`);
    expect(sealSync).toBeLessThan(created);

    // Recovery: the set-aside copy and its directory are synced before the segment is cut.
    const file = segmentPath(t.dir, fs.readdirSync(path.join(t.dir, 'segments')).length);
    fs.appendFileSync(file, '{"hash":"torn');
    log.length = 0;
    const reopened = t.open({ fs: loggingLayer(log) });
    await reopened.close();
    const copy = log.findIndex((l) => l.startsWith(`open ${path.join(t.dir, 'recovered')}`));
    const dirSync = log.indexOf(`fsync ${path.join(t.dir, 'recovered')}`);
    const cut = log.indexOf(`open ${file} ${noFollow('r+')}`);
    expect(copy).toBeGreaterThan(-1);
    expect(dirSync).toBeGreaterThan(copy);
    expect(cut).toBeGreaterThan(dirSync);
  });
});

describe('row 17: disk full (ENOSPC)', () => {
  it('loud failure naming the store, no half record left, and the store continues once space is back', async () => {
    t = tempStore();
    let full = false;
    const store = t.open({
      fs: {
        ...nodeFsLayer,
        writeSync: (fd, b, o, l, p) => {
          if (full) {
            // Half the batch reaches the file before the disk fills up.
            nodeFsLayer.writeSync(fd, b, o, Math.floor(l / 2), p);
            throw errno('ENOSPC');
          }
          return nodeFsLayer.writeSync(fd, b, o, l, p);
        },
      },
    });
    const ok = await store.append(span('full', 1));
    full = true;
    const failed = await Promise.allSettled([
      store.append(span('full', 2)),
      store.append(span('full', 3)),
    ]);
    for (const f of failed) {
      expect(f.status).toBe('rejected');
      const reason = (f as PromiseRejectedResult).reason as StoreError;
      expect(reason.code).toBe('STORE_DISK_FULL');
      expect(reason.message).toContain(t.dir);
      expect(reason.message).toMatch(/free space/);
    }
    const text = fs.readFileSync(segmentPath(t.dir, 1), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    for (const line of readLines(segmentPath(t.dir, 1)))
      expect(() => JSON.parse(line)).not.toThrow();
    expect(text).not.toContain('"span":"s2"');
    full = false;
    const next = await store.append(span('full', 4));
    // Nothing lost silently: a signed loss record stands between, naming what was rejected.
    expect(next.seq).toBe(ok.seq + 2);
    const loss = readLines(segmentPath(t.dir, 1))
      .map((l) => JSON.parse(l))
      .find((r) => r.seq === ok.seq + 1);
    expect(loss.type).toBe('loss');
    expect(loss.payload).toMatchObject({
      origin: store.origin,
      reason: 'STORE_DISK_FULL',
      count: 2,
      runs: [{ run: 'full', count: 2 }],
    });
    await store.close();
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    // The spec: a loss record is reported (exit 2, RECORDS_LOST), never verified silently.
    expect(report.problems.map((p) => p.code)).toEqual(['RECORDS_LOST']);
    expect(report.exitCode).toBe(2);
  });
});

describe('write-through: records reach the file when appended, durability stays grouped', () => {
  /** An fdatasync the test holds until it calls `release` (optionally failing with EIO). */
  function heldSync(): {
    layer: Partial<FsLayer>;
    held: () => boolean;
    release: (fail?: boolean) => void;
    hold: () => void;
  } {
    let holding = false;
    let waiting: ((fail: boolean) => void) | undefined;
    return {
      layer: {
        fdatasync: async (fd) => {
          if (holding) {
            holding = false;
            const fail = await new Promise<boolean>((r) => {
              waiting = r;
            });
            waiting = undefined;
            if (fail) throw errno('EIO');
          }
          return nodeFsLayer.fdatasync(fd);
        },
      },
      held: () => waiting !== undefined,
      release: (fail = false) => waiting?.(fail),
      hold: () => {
        holding = true;
      },
    };
  }
  const until = async (ok: () => boolean) => {
    while (!ok()) await new Promise((r) => setTimeout(r, 2));
  };

  it('an intent is in the file when append() returns, span ends when their microtask ends (one write for all), even while an fdatasync is in flight; head and listeners see only durable records', async () => {
    t = tempStore();
    const sync = heldSync();
    let writes = 0;
    const store = t.open({
      fs: {
        ...nodeFsLayer,
        ...sync.layer,
        writeSync: (fd, b, o, l, p) => {
          writes += 1;
          return nodeFsLayer.writeSync(fd, b, o, l, p);
        },
      },
    });
    const heads: number[] = [];
    store.onAppend((h) => heads.push(h.seq));
    const file = () => fs.readFileSync(segmentPath(t.dir, 1), 'utf8');
    const first = await store.append(span('wt', 1));
    sync.hold();
    const a = store.append({ ...span('wt', 2), type: 'span.start' });
    expect(file()).toContain('"span":"s2"');
    await until(sync.held);
    // Appended while the fdatasync covering s2 runs: in the file once the microtask ends,
    // in one write, durable later.
    writes = 0;
    const b = store.append(span('wt', 3));
    const more = [store.append(span('wt', 4)), store.append(span('wt', 5))];
    expect(file()).not.toContain('"span":"s3"');
    await Promise.resolve();
    expect(file()).toContain('"span":"s3"');
    expect(file()).toContain('"span":"s5"');
    expect(writes).toBe(1);
    expect(store.head.seq).toBe(first.seq);
    expect(heads.every((seq) => seq <= first.seq)).toBe(true);
    sync.release();
    const [ra, rb] = await Promise.all([a, b]);
    expect(rb.seq).toBe(ra.seq + 1);
    expect((await Promise.all(more)).map((r) => r.seq)).toEqual([rb.seq + 1, rb.seq + 2]);
    expect(store.head.seq).toBeGreaterThanOrEqual(rb.seq + 2);
    expect(heads.at(-1)).toBe(store.head.seq);
    await store.close();
    expect((await verifyStore({ dir: t.dir, trustDir: t.trustDir })).exitCode).toBe(0);
  });

  it('ENOSPC while an fdatasync is in flight: only the failed write is cut off and rejected, the chain continues from the last whole record', async () => {
    t = tempStore();
    const sync = heldSync();
    let full = false;
    const store = t.open({
      fs: {
        ...nodeFsLayer,
        ...sync.layer,
        writeSync: (fd, b, o, l, p) => {
          if (full) {
            nodeFsLayer.writeSync(fd, b, o, Math.floor(l / 2), p);
            throw errno('ENOSPC');
          }
          return nodeFsLayer.writeSync(fd, b, o, l, p);
        },
      },
    });
    await store.append(span('nospc', 1));
    sync.hold();
    const a = store.append(span('nospc', 2));
    await until(sync.held);
    full = true;
    const b = store.append(span('nospc', 3));
    // The span end is written when its microtask ends, into the full disk.
    await Promise.resolve();
    full = false;
    const c = store.append(span('nospc', 4));
    await expect(b).rejects.toMatchObject({ code: 'STORE_DISK_FULL' });
    sync.release();
    const [ra, rc] = await Promise.all([a, c]);
    // The loss record of s3 comes before s4.
    expect(rc.seq).toBe(ra.seq + 2);
    const text = fs.readFileSync(segmentPath(t.dir, 1), 'utf8');
    expect(text).not.toContain('"span":"s3"');
    for (const line of readLines(segmentPath(t.dir, 1)))
      expect(() => JSON.parse(line)).not.toThrow();
    await store.close();
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expect(report.problems.map((p) => p.code)).toEqual(['RECORDS_LOST']);
    expect(report.exitCode).toBe(2);
  });

  it('fdatasync EIO: records written while it ran are rejected too, none is claimed durable, the segment is sealed damaged on reopen', async () => {
    t = tempStore();
    const sync = heldSync();
    const store = t.open({ fs: { ...nodeFsLayer, ...sync.layer } });
    const heads: number[] = [];
    store.onAppend((h) => heads.push(h.seq));
    const acked = await store.append(span('eio2', 1));
    sync.hold();
    const a = store.append(span('eio2', 2));
    await until(sync.held);
    const b = store.append(span('eio2', 3));
    sync.release(true);
    const settled = await Promise.allSettled([a, b]);
    for (const s of settled) {
      expect(s.status).toBe('rejected');
      expect(((s as PromiseRejectedResult).reason as StoreError).code).toBe('STORE_IO_ERROR');
    }
    expect(store.head.seq).toBe(acked.seq);
    expect(Math.max(...heads)).toBe(acked.seq);
    await expect(store.append(span('eio2', 4))).rejects.toMatchObject({ code: 'STORE_IO_ERROR' });
    await store.close();
    const reopened = t.open();
    await reopened.close();
    const all = openStoreReader(t.dir, { index: false }).recordsFrom(1, 1000);
    expect(all.find((r) => r.seq === acked.seq)?.hash).toBe(acked.hash);
    expect(all.some((r) => r.tags.span === 's2' || r.tags.span === 's3')).toBe(false);
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expect(report.problems).toEqual([]);
    expect(report.exitCode).toBe(0);
    expect(report.recoveries.map((r) => r.reason)).toEqual(['fsync-failed']);
  });

  it('flushSync during an in-flight fdatasync settles everything written; the late fdatasync applies nothing twice', async () => {
    t = tempStore();
    const sync = heldSync();
    const store = t.open({ fs: { ...nodeFsLayer, ...sync.layer } });
    await store.append(span('fs', 1));
    sync.hold();
    const a = store.append(span('fs', 2));
    await until(sync.held);
    const b = store.append(span('fs', 3));
    store.flushSync();
    const [ra, rb] = await Promise.all([a, b]);
    expect(store.head.seq).toBeGreaterThan(rb.seq);
    expect(rb.seq).toBe(ra.seq + 1);
    const head = store.head.seq;
    sync.release();
    await store.close();
    // Only the close's own two records (store.close, its checkpoint) were added.
    expect(store.head.seq).toBe(head + 2);
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expect(report.problems).toEqual([]);
    expect(report.exitCode).toBe(0);
  });
});

/** Give others read access to a store tree (directories 0755, files 0644). */
function shareReadOnly(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) shareReadOnly(p);
    else fs.chmodSync(p, 0o644);
  }
}

describe('row 18: read-only file system / permission denied', () => {
  async function storeWithRun(): Promise<void> {
    t = tempStore();
    const store = t.open();
    for (let i = 0; i < 3; i++) await store.append(span('ro-run', i));
    await store.close();
  }

  it('injected EROFS: the writer refuses to start with a clear error', async () => {
    await storeWithRun();
    const layer: FsLayer = {
      ...nodeFsLayer,
      mkdirSync: () => {
        throw errno('EROFS');
      },
    };
    let error: StoreError | undefined;
    try {
      t.open({ fs: layer });
    } catch (e) {
      error = e as StoreError;
    }
    expect(error?.code).toBe('STORE_NOT_WRITABLE');
    expect(error?.message).toContain(t.dir);
    expect(error?.message).toMatch(/read-write/);
    expect(error?.message).toMatch(/verify and queries still work read-only/);
  });

  const fixture = fileURLToPath(new URL('./fixtures/open-readonly.mjs', import.meta.url));

  it('real permission denied (another user): writer refuses, verify and queries work', async () => {
    await storeWithRun();
    // Make the tree readable but not writable for an unprivileged user.
    fs.chmodSync(t.root, 0o755);
    // The public key is for anyone to read; the trust directory itself is created 0700.
    fs.chmodSync(t.trustDir, 0o755);
    // The store is created 0700 with 0600 files: an operator shares it read-only on purpose.
    shareReadOnly(t.dir);
    fs.chmodSync(t.anchorPath, 0o644);
    // The other user must be able to run the fixture: a checkout under a private directory
    // (mktemp -d is 0700) is out of its reach.
    const probe = spawnSync('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      'test',
      '-r',
      fixture,
    ]);
    if (probe.status !== 0) {
      // No setpriv here, or the checkout is private: the injected EACCES path proves the same
      // refusal.
      expect(() =>
        t.open({
          fs: {
            ...nodeFsLayer,
            openSync: () => {
              throw errno('EACCES');
            },
          },
        }),
      ).toThrow(/STORE_NOT_WRITABLE|cannot write/);
      return;
    }
    const run = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        fixture,
        t.dir,
        t.trustDir,
        'ro-run',
      ],
      { encoding: 'utf8' },
    );
    expect(run.stderr).toBe('');
    const out = JSON.parse(run.stdout);
    expect(out.open).toMatchObject({ ok: false, code: 'STORE_NOT_WRITABLE' });
    expect(out.open.message).toMatch(/EACCES/);
    expect(out.verify.exitCode).toBe(0);
    expect(out.runRecords).toBe(3);
    expect(out.runs).toBe(1);
  });

  it('real read-only mount: writer refuses (EROFS), verify and queries work', async () => {
    await storeWithRun();
    const script = `mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && exec "$2" "$3" "$4" "$5" ro-run`;
    const run = spawnSync(
      'unshare',
      ['-rm', 'sh', '-c', script, 'sh', t.root, process.execPath, fixture, t.dir, t.trustDir],
      { encoding: 'utf8' },
    );
    if (run.status !== 0 && /unshare|mount/.test(run.stderr)) {
      // No user namespaces here: fall back to an injected EROFS on a real open.
      expect(() =>
        t.open({
          fs: {
            ...nodeFsLayer,
            mkdirSync: () => {
              throw errno('EROFS');
            },
          },
        }),
      ).toThrow(/read-write/);
      return;
    }
    expect(run.stderr).toBe('');
    const out = JSON.parse(run.stdout);
    expect(out.open).toMatchObject({ ok: false, code: 'STORE_NOT_WRITABLE' });
    expect(out.open.message).toMatch(/EROFS/);
    expect(out.verify.exitCode).toBe(0);
    expect(out.runRecords).toBe(3);
  });
});

describe('row 19: fsync returns EIO', () => {
  it('never retried as if fine: the batch is refused, the writer stops, the segment is sealed as damaged on reopen', async () => {
    t = tempStore();
    let syncs = 0;
    const store = t.open({
      fs: {
        ...nodeFsLayer,
        fdatasync: async (fd) => {
          syncs += 1;
          if (syncs === 3) throw errno('EIO');
          return nodeFsLayer.fdatasync(fd);
        },
      },
    });
    const acked = [await store.append(span('eio', 1)), await store.append(span('eio', 2))];
    const lost = await Promise.allSettled([store.append(span('eio', 3))]);
    expect(lost[0]!.status).toBe('rejected');
    expect(((lost[0] as PromiseRejectedResult).reason as StoreError).code).toBe('STORE_IO_ERROR');
    // Even though the next fdatasync would succeed, nothing more is accepted.
    await expect(store.append(span('eio', 4))).rejects.toMatchObject({ code: 'STORE_IO_ERROR' });
    await store.close();
    expect(fs.existsSync(path.join(t.dir, 'store.lock'))).toBe(false);
    expect(fs.existsSync(`${segmentPath(t.dir, 1)}.damaged`)).toBe(true);

    const notices: string[] = [];
    const reopened = t.open({ onNotice: (n) => notices.push(n.code) });
    expect(reopened.segment).toBe(2);
    await reopened.append(span('after', 1));
    await reopened.close();
    expect(notices).toContain('RECOVERED_TAIL');
    const reader = openStoreReader(t.dir, { index: false });
    const all = reader.recordsFrom(1, 1000);
    for (const a of acked) expect(all.find((r) => r.seq === a.seq)?.hash).toBe(a.hash);
    expect(all.some((r) => r.tags.span === 's3')).toBe(false);
    const seal = all.find((r) => r.type === 'segment.seal');
    expect(seal?.payload).toMatchObject({ damaged: true, segment: 1 });
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expect(report.problems).toEqual([]);
    expect(report.exitCode).toBe(0);
    expect(report.warnings.map((w) => w.code)).toContain('SEGMENT_SEALED_DAMAGED');
    expect(report.recoveries.map((r) => r.reason)).toEqual(['fsync-failed']);
  });
});
