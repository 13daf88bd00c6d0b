// F6 (test/redteam/README.md): whoever can write the store directory plants symlinks where the
// writer writes. The writer must refuse (STORE_SYMLINK, naming the path) before anything is
// written, never write through a link planted while it runs (O_NOFOLLOW), and verify must
// report a link where the evidence lives. Each case: planted, restart, verify; link moved
// aside, restart again.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type StoreError, verifyStore } from '../src/index.js';
import { cleanupTempStores, segmentPath, span, type TempStore, tempStore } from './helpers.js';

let t: TempStore;
afterEach(cleanupTempStores);

async function closedStore(records = 5): Promise<TempStore> {
  t = tempStore();
  const s = t.open();
  for (let i = 0; i < records; i++) await s.append(span('r1', i));
  await s.close();
  return t;
}

function newest(dir: string): string {
  const names = fs.readdirSync(path.join(dir, 'segments')).filter((n) => n.endsWith('.jsonl'));
  return path.join(dir, 'segments', names.sort().at(-1) as string);
}

function openError(store: TempStore): StoreError | undefined {
  try {
    const s = store.open();
    void s.close();
  } catch (error) {
    return error as StoreError;
  }
  return undefined;
}

/** Bytes and names of a file or a directory tree, to prove nothing was written there. */
function snapshot(p: string): string {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return fs.readFileSync(p).toString('base64');
  return fs
    .readdirSync(p)
    .sort()
    .map((n) => `${n}:${snapshot(path.join(p, n))}`)
    .join('|');
}

const verifyCodes = async (store: TempStore) => {
  const r = await verifyStore({ dir: store.dir, trustDir: store.trustDir });
  return { exit: r.exitCode, codes: r.problems.map((p) => p.code) };
};

interface Target {
  name: string;
  /** Replace the store's entry by a link to a victim outside the store; returns [link, victim]. */
  plant: (store: TempStore) => [string, string];
  /** Evidence links are tampering for verify (1); the lock is the writer's alone. */
  evidence: boolean;
}

function linkFile(store: TempStore, entry: string): [string, string] {
  const victim = path.join(store.root, `victim-${path.basename(entry)}`);
  fs.copyFileSync(entry, victim);
  fs.chmodSync(victim, 0o600);
  fs.rmSync(entry);
  fs.symlinkSync(victim, entry);
  return [entry, victim];
}

function linkDir(store: TempStore, entry: string): [string, string] {
  const victim = path.join(store.root, `victim-${path.basename(entry)}`);
  if (fs.existsSync(entry)) {
    fs.cpSync(entry, victim, { recursive: true });
    fs.rmSync(entry, { recursive: true, force: true });
  } else {
    fs.mkdirSync(victim);
  }
  fs.symlinkSync(victim, entry);
  return [entry, victim];
}

const targets: Target[] = [
  { name: 'the newest segment', plant: (s) => linkFile(s, newest(s.dir)), evidence: true },
  {
    name: 'checkpoints.jsonl',
    plant: (s) => linkFile(s, path.join(s.dir, 'checkpoints.jsonl')),
    evidence: true,
  },
  {
    name: 'segments/',
    plant: (s) => linkDir(s, path.join(s.dir, 'segments')),
    evidence: true,
  },
  {
    name: 'recovered/',
    plant: (s) => {
      fs.appendFileSync(newest(s.dir), '{"torn'); // the restart would set bytes aside there
      return linkDir(s, path.join(s.dir, 'recovered'));
    },
    evidence: true,
  },
  {
    name: 'store.lock',
    plant: (s) => {
      const victim = path.join(s.root, 'victim-lock');
      fs.writeFileSync(victim, 'not a lock\n', { mode: 0o600 });
      fs.symlinkSync(victim, path.join(s.dir, 'store.lock'));
      return [path.join(s.dir, 'store.lock'), victim];
    },
    evidence: false,
  },
  {
    name: 'forwarder/',
    plant: (s) => linkDir(s, path.join(s.dir, 'forwarder')),
    evidence: false,
  },
];

describe('symlinks planted in a closed store: the restart refuses before writing', () => {
  for (const target of targets) {
    it(`${target.name}`, async () => {
      const store = await closedStore();
      const [link, victim] = target.plant(store);
      const before = snapshot(victim);
      const v1 = await verifyCodes(store);
      if (target.evidence) {
        expect(v1.exit).toBe(1);
        expect(v1.codes).toContain('STORE_SYMLINK');
      } else {
        expect(v1.codes).not.toContain('STORE_SYMLINK');
      }
      const error = openError(store);
      expect(error?.code).toBe('STORE_SYMLINK');
      expect(error?.message).toContain(link);
      expect(snapshot(victim)).toBe(before);
      // A second restart still refuses, and still writes nothing.
      expect(openError(store)?.code).toBe('STORE_SYMLINK');
      expect(snapshot(victim)).toBe(before);
      if (target.evidence) expect((await verifyCodes(store)).exit).toBe(1);
    });
  }

  it('the link moved aside (the real file put back): the writer continues and verify is 0', async () => {
    const store = await closedStore();
    const seg = newest(store.dir);
    const [link, victim] = linkFile(store, seg);
    expect(openError(store)?.code).toBe('STORE_SYMLINK');
    fs.rmSync(link);
    fs.copyFileSync(victim, seg);
    const s = store.open();
    await s.append(span('r1', 9));
    await s.close();
    expect(await verifyCodes(store)).toEqual({ exit: 0, codes: [] });
  });

  it('a planted .damaged marker link in segments/ is refused too', async () => {
    const store = await closedStore();
    const victim = path.join(store.root, 'victim.txt');
    fs.writeFileSync(victim, 'outside\n');
    fs.symlinkSync(victim, `${newest(store.dir)}.damaged`);
    expect(openError(store)?.code).toBe('STORE_SYMLINK');
    expect(fs.readFileSync(victim, 'utf8')).toBe('outside\n');
    expect((await verifyCodes(store)).codes).toContain('STORE_SYMLINK');
  });
});

describe('symlinks planted while the writer runs: O_NOFOLLOW, never written through', () => {
  it('checkpoints.jsonl: the checkpoint fails loudly, the target is untouched, the restart refuses', async () => {
    t = tempStore();
    const notices: string[] = [];
    const s = t.open({ onNotice: (n) => notices.push(n.code) });
    await s.append(span('r1', 0));
    await s.checkpoint();
    const [, victim] = linkFile(t, path.join(t.dir, 'checkpoints.jsonl'));
    const before = snapshot(victim);
    await s.append(span('r1', 1));
    await expect(s.checkpoint()).rejects.toMatchObject({ code: 'STORE_SYMLINK' });
    expect(notices).toContain('ANCHOR_WRITE_FAILED');
    await s.close().catch(() => undefined);
    expect(snapshot(victim)).toBe(before);
    expect(openError(t)?.code).toBe('STORE_SYMLINK');
    expect(snapshot(victim)).toBe(before);
    expect((await verifyCodes(t)).exit).toBe(1);
  });

  it('the newest segment at its seal: the link target keeps its mode (fchmod on the writer fd)', async () => {
    t = tempStore();
    const s = t.open({ segmentMaxBytes: 2_000 });
    await s.append(span('r1', 0));
    const [, victim] = linkFile(t, segmentPath(t.dir, 1));
    const mode = fs.statSync(victim).mode & 0o777;
    // Enough to fill the segment: the writer seals it while the link is in place.
    for (let i = 1; i < 12; i++) await s.append(span('r1', i));
    await s.close();
    expect(fs.existsSync(segmentPath(t.dir, 2))).toBe(true);
    expect(fs.statSync(victim).mode & 0o777).toBe(mode);
  });

  it('the newest segment: appends stay in the store file, the restart refuses', async () => {
    t = tempStore();
    const s = t.open();
    await s.append(span('r1', 0));
    const [, victim] = linkFile(t, segmentPath(t.dir, 1));
    const before = snapshot(victim);
    await s.append(span('r1', 1));
    await s.close();
    expect(snapshot(victim)).toBe(before);
    expect(openError(t)?.code).toBe('STORE_SYMLINK');
    expect(snapshot(victim)).toBe(before);
    const v = await verifyCodes(t);
    expect(v.exit).toBe(1);
    expect(v.codes).toContain('STORE_SYMLINK');
  });
});

describe('the store directory itself may be a symlink', () => {
  it('opened through a link: written, restarted and verified 0 through the same path', async () => {
    t = tempStore();
    const real = path.join(t.root, 'real-store');
    fs.mkdirSync(real, { mode: 0o700 });
    fs.symlinkSync(real, t.dir);
    for (const n of [0, 1]) {
      const s = t.open();
      await s.append(span('r1', n));
      await s.close();
    }
    expect(fs.existsSync(path.join(real, 'segments', '00000001.jsonl'))).toBe(true);
    expect(await verifyCodes(t)).toEqual({ exit: 0, codes: [] });
  });
});
