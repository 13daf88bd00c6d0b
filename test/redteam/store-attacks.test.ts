// Independent attack suite for the WORM store (issue 9): identity, checkpoint log, segments,
// keys and symlinks. Written from the contract (docs/store-format.md "Threat model",
// docs/reliability.md) without reading packages/store/src. Attacker: full write access to the
// store directory, none to the trust directory; may run the real writer. Every attack builds a
// real store with the real writer, tampers with the files, then checks `agent-audit verify`
// (the built CLI) before and after a restart of the real writer (see judge.ts).
// An attack that currently succeeds is `it.fails(...)` with a comment naming the finding.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { judge, neverVerified } from './judge.js';
import {
  appendForged,
  cli,
  closedStore,
  copyDir,
  crashed,
  line,
  makeLab,
  multiSegment,
  newestSegment,
  type Rec,
  readRecords,
  rechain,
  restart,
  segmentFiles,
  sha256,
  truncateRecords,
  verify,
  writable,
  writeStore,
} from './redteam-kit.js';

describe('identity: history rewritten, store swapped, store wiped', () => {
  it('whole history re-chained under a new origin (checkpoints dropped)', async () => {
    const { lab, dir } = await closedStore();
    const [seg] = segmentFiles(dir);
    const origin = 'f'.repeat(32);
    rechain(seg as string, (recs) =>
      recs
        .filter((r) => r.type === 'segment.open' || r.type === 'event')
        .map((r) =>
          r.type === 'segment.open' ? { ...r, payload: { ...(r.payload as object), origin } } : r,
        ),
    );
    fs.writeFileSync(path.join(dir, 'checkpoints.jsonl'), '');
    const o = await judge('rewrite-new-origin', lab, dir);
    neverVerified(o);
    expect(o.before.codes).toContain('STORE_IDENTITY_MISMATCH');
    expect(o.restart).toBe('STORE_IDENTITY_MISMATCH');
  });

  it('history rewritten by the real writer at another path (signed, same key), moved in', async () => {
    const { lab, dir } = await closedStore();
    const forged = lab.dir('forged');
    await writeStore(lab, forged, 5, { run: 'r1', tags: { principal: 'user:innocent' } });
    fs.rmSync(dir, { recursive: true });
    fs.renameSync(forged, dir);
    const o = await judge('rewrite-by-writer-elsewhere', lab, dir);
    neverVerified(o);
    expect(o.before.codes).toContain('STORE_IDENTITY_MISMATCH');
    expect(o.restart).toBe('STORE_IDENTITY_MISMATCH');
  });

  it('two stores sharing the trust dir swapped with each other', async () => {
    const { lab, dir } = await closedStore();
    const b = lab.dir('b');
    await writeStore(lab, b, 7);
    const tmp = lab.dir('tmp');
    fs.renameSync(dir, tmp);
    fs.renameSync(b, dir);
    fs.renameSync(tmp, b);
    const oa = await judge('swap-a-b (a)', lab, dir);
    const ob = await judge('swap-a-b (b)', lab, b);
    neverVerified(oa);
    neverVerified(ob);
    expect(oa.restart).toBe('STORE_IDENTITY_MISMATCH');
    expect(ob.restart).toBe('STORE_IDENTITY_MISMATCH');
  });

  it('a copy (fork) of the store at another path: the writer refuses to extend it', async () => {
    const { lab, dir } = await closedStore();
    const fork = lab.dir('fork');
    copyDir(dir, fork);
    const refused = await restart(lab, fork); // the writer must not extend a fork of the origin
    expect(refused).toBe('STORE_IDENTITY_MISMATCH');
    expect(verify(lab, fork).codes).toContain('STORE_IDENTITY_MISMATCH');
    copyDir(fork, dir);
    const o = await judge('fork-elsewhere-copied-back', lab, dir);
    expect(o.before.exit).toBe(0); // nothing was written to the fork: the copy is the original
  });

  it("a fresh store at another path given this store's origin in its header", async () => {
    const { lab, dir } = await closedStore();
    const clone = lab.dir('clone');
    copyDir(dir, clone);
    truncateRecords(segmentFiles(clone)[0] as string, 1);
    fs.writeFileSync(path.join(clone, 'checkpoints.jsonl'), '');
    expect(await restart(lab, clone)).toBe('STORE_IDENTITY_MISMATCH');
  });

  it('store rolled back to an older copy of itself', async () => {
    const { lab, dir } = await closedStore();
    const old = lab.dir('old');
    copyDir(dir, old);
    await writeStore(lab, dir, 3);
    fs.rmSync(dir, { recursive: true });
    fs.renameSync(old, dir);
    const o = await judge('rollback-older-copy', lab, dir);
    neverVerified(o);
    expect(o.before.exit).toBe(1);
    expect(o.restart).toBe('STORE_BEHIND_ANCHOR');
  });

  // FINDING F5: a store directory whose segments/ is gone (or whose files were all deleted) is
  // exit 3 "not an audit store" (usage), although the anchor binds the path: the contract says
  // ANCHOR_BEYOND_END (1) for "a store with no segments whose path the anchor binds", and
  // "tampering wins over I/O errors". Never 0, but tampering is reported as a usage error.
  it('segments wiped (empty store directory left) [F5]', async () => {
    const { lab, dir } = await closedStore();
    fs.rmSync(path.join(dir, 'segments'), { recursive: true });
    fs.rmSync(path.join(dir, 'checkpoints.jsonl'));
    const o = await judge('wipe-segments', lab, dir);
    neverVerified(o);
    expect(o.before.codes).toContain('ANCHOR_BEYOND_END');
    expect(o.restart).toBe('STORE_BEHIND_ANCHOR');
    expect(o.after.exit).toBe(1);
  });

  it('whole store directory deleted, then the writer restarted', async () => {
    const { lab, dir } = await closedStore();
    fs.rmSync(dir, { recursive: true });
    const o = await judge('wipe-directory', lab, dir);
    neverVerified(o);
    // The anchor binds the path: a deleted store is ANCHOR_BEYOND_END (1), tampering wins over
    // STORE_NOT_FOUND (3); a path no anchor line names stays 3 (packages/cli/test).
    expect(o.before.exit).toBe(1);
    expect(o.before.codes).toContain('ANCHOR_BEYOND_END');
    expect(o.restart).toBe('STORE_BEHIND_ANCHOR');
    expect(o.after.exit).toBe(1);
  });

  it('wiped to a fresh segment holding only its own header (same origin)', async () => {
    const { lab, dir } = await closedStore();
    truncateRecords(segmentFiles(dir)[0] as string, 1);
    fs.writeFileSync(path.join(dir, 'checkpoints.jsonl'), '');
    const o = await judge('wipe-to-header', lab, dir);
    neverVerified(o);
    expect(o.before.exit).toBe(1);
    expect(o.restart).toBe('STORE_BEHIND_ANCHOR');
  });
});

describe('checkpoints.jsonl', () => {
  async function twoCheckpoints() {
    const { lab, dir } = await closedStore();
    await writeStore(lab, dir, 2);
    return { lab, dir };
  }

  it('deleted', async () => {
    const { lab, dir } = await twoCheckpoints();
    fs.rmSync(path.join(dir, 'checkpoints.jsonl'));
    const o = await judge('checkpoint-log-deleted', lab, dir);
    neverVerified(o);
    expect(o.before.codes).toContain('CHECKPOINT_LOG_MISSING');
  });

  it('a line of another store (same key) added', async () => {
    const { lab, dir } = await twoCheckpoints();
    const b = lab.dir('b');
    await writeStore(lab, b, 2);
    fs.appendFileSync(
      path.join(dir, 'checkpoints.jsonl'),
      fs.readFileSync(path.join(b, 'checkpoints.jsonl')),
    );
    const o = await judge('checkpoint-log-foreign-line', lab, dir);
    neverVerified(o);
    expect(o.before.codes).toContain('CHECKPOINT_ORIGIN_MISMATCH');
  });

  it('a line of this origin with a forged signature added', async () => {
    const { lab, dir } = await twoCheckpoints();
    const logFile = path.join(dir, 'checkpoints.jsonl');
    const last = JSON.parse(fs.readFileSync(logFile, 'utf8').trim().split('\n').at(-1) as string);
    fs.appendFileSync(
      logFile,
      `${JSON.stringify({ ...last, sig: Buffer.alloc(64, 7).toString('base64') })}\n`,
    );
    const o = await judge('checkpoint-log-forged-sig', lab, dir);
    neverVerified(o);
    expect(o.before.exit).toBe(1);
  });

  it('lines reordered (no evidence changed: recorded, the contract is silent)', async () => {
    const { lab, dir } = await twoCheckpoints();
    const logFile = path.join(dir, 'checkpoints.jsonl');
    const lines = fs.readFileSync(logFile, 'utf8').trim().split('\n').reverse();
    fs.writeFileSync(logFile, `${lines.join('\n')}\n`);
    const o = await judge('checkpoint-log-reordered', lab, dir);
    expect(o.restart).toBe('opened');
    expect([0, 1]).toContain(o.after.exit);
  });

  it('segments cut back to an earlier checkpoint record together with the log', async () => {
    const { lab, dir } = await twoCheckpoints();
    const seg = newestSegment(dir);
    const recs = readRecords(seg);
    const firstCp = recs.findIndex((r) => r.type === 'checkpoint');
    truncateRecords(seg, firstCp + 1);
    const logFile = path.join(dir, 'checkpoints.jsonl');
    fs.writeFileSync(logFile, `${fs.readFileSync(logFile, 'utf8').split('\n')[0]}\n`);
    const o = await judge('cut-back-with-log', lab, dir);
    neverVerified(o);
    expect(o.restart).toBe('STORE_BEHIND_ANCHOR');
  });
});

describe('segments deleted, reordered, duplicated', () => {
  // The sealed-segment fast path: an ordinary record of sealed segment 1 changed, segment 1
  // re-chained and re-sealed (new digest, bytes, seal hash), segment 2 re-chained onto it.
  it('a sealed segment rewritten and re-sealed, the next segment re-chained onto it', async () => {
    const { lab, dir } = await multiSegment();
    const [s1, s2] = segmentFiles(dir) as [string, string];
    const recs = readRecords(s1);
    const seal = recs.at(-1) as Rec;
    expect(seal.type).toBe('segment.seal');
    const body = recs.slice(0, -1);
    const victim = body.findIndex((r) => r.type === 'event');
    body[victim] = { ...(body[victim] as Rec), payload: { i: 999, note: 'rewritten' } };
    let prev = (body[0] as Rec).prev;
    let text = '';
    for (const r of body) {
      const l = line({ ...r, prev });
      text += `${l.line}\n`;
      prev = l.hash;
    }
    const sealPayload = {
      ...(seal.payload as object),
      bytes: Buffer.byteLength(text),
      sha256: sha256(Buffer.from(text)),
    };
    const sealLine = line({ ...seal, prev, payload: sealPayload });
    writable(s1);
    fs.writeFileSync(s1, `${text}${sealLine.line}\n`);
    prev = sealLine.hash;
    let text2 = '';
    for (const r of readRecords(s2)) {
      const l = line({ ...r, prev });
      text2 += `${l.line}\n`;
      prev = l.hash;
    }
    writable(s2);
    fs.writeFileSync(s2, text2);
    const o = await judge('sealed-segment-rewritten-resealed', lab, dir);
    neverVerified(o);
    expect(o.before.codes).toContain('CHECKPOINT_HEAD_MISMATCH');
    expect(verify(lab, dir, ['--full']).exit).toBe(1);
  });

  it('a sealed middle segment deleted', async () => {
    const { lab, dir } = await multiSegment();
    fs.rmSync(segmentFiles(dir)[1] as string);
    const o = await judge('segment-middle-deleted', lab, dir);
    neverVerified(o);
    expect(o.before.codes).toContain('SEGMENT_MISSING');
  });

  it('the first segment deleted (no prune record)', async () => {
    const { lab, dir } = await multiSegment();
    fs.rmSync(segmentFiles(dir)[0] as string);
    const o = await judge('segment-first-deleted', lab, dir);
    neverVerified(o);
    expect(o.before.codes).toContain('SEGMENT_MISSING');
  });

  it('the newest segment deleted', async () => {
    const { lab, dir } = await multiSegment();
    fs.rmSync(newestSegment(dir));
    const o = await judge('segment-newest-deleted', lab, dir);
    neverVerified(o);
    expect(o.restart).toBe('STORE_BEHIND_ANCHOR');
  });

  it('two sealed segments swapped by name', async () => {
    const { lab, dir } = await multiSegment();
    const [s1, s2] = segmentFiles(dir) as [string, string];
    const tmp = `${s1}.tmp`;
    fs.renameSync(s1, tmp);
    fs.renameSync(s2, s1);
    fs.renameSync(tmp, s2);
    const o = await judge('segments-swapped', lab, dir);
    neverVerified(o);
  });

  it('a sealed segment duplicated as the next (newest) segment', async () => {
    const { lab, dir } = await multiSegment();
    const files = segmentFiles(dir);
    const next = path.join(dir, 'segments', `${String(files.length + 1).padStart(8, '0')}.jsonl`);
    fs.copyFileSync(files[0] as string, next);
    writable(next);
    const o = await judge('segment-duplicated-as-newest', lab, dir);
    neverVerified(o);
  });

  it('the newest segment replaced by a copy of an older sealed one with its seal cut', async () => {
    const { lab, dir } = await multiSegment();
    const files = segmentFiles(dir);
    const newest = files.at(-1) as string;
    fs.rmSync(newest);
    fs.copyFileSync(files.at(-2) as string, newest);
    writable(newest);
    const recs = readRecords(newest);
    truncateRecords(newest, recs.length - 1);
    const o = await judge('newest-replaced-by-old', lab, dir);
    neverVerified(o);
  });
});

describe('keys and symlinks', () => {
  it('chain re-signed with an attacker key whose public key is planted in the store', async () => {
    const { lab, dir } = await closedStore();
    const evil = makeLab();
    const forged = evil.dir('x');
    await writeStore(evil, forged, 5);
    fs.rmSync(dir, { recursive: true });
    fs.cpSync(forged, dir, { recursive: true });
    fs.copyFileSync(path.join(evil.trust, 'public-key.pem'), path.join(dir, 'public-key.pem'));
    const o = await judge('attacker-key-in-store', lab, dir);
    neverVerified(o);
    const viaFlag = await judge('attacker-key-in-store --public-key', lab, dir, [
      '--public-key',
      path.join(dir, 'public-key.pem'),
    ]);
    neverVerified(viaFlag);
  });

  it('--public-key through a symlink outside the store pointing into it', async () => {
    const { lab, dir } = await closedStore();
    const evil = makeLab();
    await writeStore(evil, evil.dir('x'), 1);
    fs.copyFileSync(path.join(evil.trust, 'public-key.pem'), path.join(dir, 'k.pem'));
    const link = path.join(lab.root, 'auditor-key.pem');
    fs.symlinkSync(path.join(dir, 'k.pem'), link);
    const v = verify(lab, dir, ['--public-key', link]);
    expect(v.exit).not.toBe(0);
    expect(v.warnings).toContain('KEY_INSIDE_STORE_IGNORED');
  });

  it('segments directory replaced by a symlink to another store of the same key', async () => {
    const { lab, dir } = await closedStore();
    const b = lab.dir('b');
    await writeStore(lab, b, 5);
    fs.rmSync(path.join(dir, 'segments'), { recursive: true });
    fs.symlinkSync(path.join(b, 'segments'), path.join(dir, 'segments'));
    fs.copyFileSync(path.join(b, 'checkpoints.jsonl'), path.join(dir, 'checkpoints.jsonl'));
    const o = await judge('segments-symlink-to-other-store', lab, dir);
    neverVerified(o);
  });

  // FINDING F6: the writer follows a checkpoints.jsonl symlink planted in the store and appends
  // its checkpoint lines to the target, here the trust directory's signing-key.pem: an attacker
  // without access to the trust directory makes the writer modify it (or any file the writer
  // may write). verify does not print the key (checked first). Expected: the writer refuses a
  // symlinked store file (O_NOFOLLOW / lstat) and leaves the target untouched.
  it('checkpoints.jsonl symlinked to the signing key: not printed, not written [F6]', async () => {
    const { lab, dir } = await closedStore();
    fs.rmSync(path.join(dir, 'checkpoints.jsonl'));
    fs.symlinkSync(path.join(lab.trust, 'signing-key.pem'), path.join(dir, 'checkpoints.jsonl'));
    const keyBody = fs
      .readFileSync(path.join(lab.trust, 'signing-key.pem'), 'utf8')
      .split('\n')[1] as string;
    const o = await judge('checkpoint-log-symlink-to-signing-key', lab, dir);
    for (const out of [o.before, o.after]) {
      expect(out.stdout + out.stderr).not.toContain(keyBody);
      expect(cli(lab, ['verify', '--store', dir]).stdout).not.toContain(keyBody);
    }
    const key = fs.readFileSync(path.join(lab.trust, 'signing-key.pem'), 'utf8');
    expect(key.trim().endsWith('-----END PRIVATE KEY-----')).toBe(true);
  });

  it('store.lock symlinked to the signing key: the writer must not leak or clobber it', async () => {
    const { lab, dir } = await closedStore();
    const keyFile = path.join(lab.trust, 'signing-key.pem');
    const key = fs.readFileSync(keyFile, 'utf8');
    fs.symlinkSync(keyFile, path.join(dir, 'store.lock'));
    let message = '';
    try {
      const { AuditStore } = await import('@agent-audit/store');
      const s = AuditStore.open({
        dir,
        trustDir: lab.trust,
        onNotice: (n) => (message += n.message),
      });
      await s.close();
    } catch (error) {
      message += String((error as Error).message);
    }
    expect(message).not.toContain(key.split('\n')[1] as string);
    expect(fs.readFileSync(keyFile, 'utf8')).toBe(key);
    const st = cli(lab, ['status', '--store', dir]);
    expect(st.stdout + st.stderr).not.toContain(key.split('\n')[1] as string);
  });

  // FINDING F6, the class: every file the writer appends to in the store, planted as a symlink
  // to a file outside it, must not be written through.
  const throughLinks: [string, (dir: string, victim: string) => void][] = [
    [
      'checkpoints.jsonl',
      (dir, victim) => {
        fs.rmSync(path.join(dir, 'checkpoints.jsonl'));
        fs.symlinkSync(victim, path.join(dir, 'checkpoints.jsonl'));
      },
    ],
    [
      'the newest segment',
      (dir, victim) => {
        const seg = newestSegment(dir);
        fs.copyFileSync(seg, victim);
        fs.rmSync(seg);
        fs.symlinkSync(victim, seg);
      },
    ],
  ];
  for (const [name, plant] of throughLinks) {
    it(`${name} symlinked outside the store: not written through [F6]`, async () => {
      const { lab, dir } = await closedStore();
      const victim = path.join(lab.root, 'victim.txt');
      fs.writeFileSync(victim, 'outside the store\n');
      plant(dir, victim);
      const before = fs.readFileSync(victim);
      await judge(`symlink-write-through: ${name}`, lab, dir);
      expect(fs.readFileSync(victim).equals(before)).toBe(true);
    });
  }

  // F6 again: the restart writes the set-aside .torn file into the symlink's target directory.
  it('recovered/ symlinked outside the store: set-aside bytes not written there [F6]', async () => {
    const { lab, dir } = await crashed();
    const victim = path.join(lab.root, 'victim-dir');
    fs.mkdirSync(victim);
    fs.symlinkSync(victim, path.join(dir, 'recovered'));
    fs.appendFileSync(newestSegment(dir), '{"torn');
    await judge('symlink-write-through: recovered/', lab, dir);
    expect(fs.readdirSync(victim)).toEqual([]);
  });

  it('verify of several stores exits with the worst verdict (a tampered one last)', async () => {
    const { lab, dir } = await closedStore();
    const b = lab.dir('b');
    await writeStore(lab, b, 3);
    appendForged(b, [{ type: 'event', tags: { run: 'r1' }, payload: { forged: true } }]);
    expect(verify(lab, dir).exit).toBe(0);
    expect(cli(lab, ['verify', '--store', dir, '--store', b]).exit).toBe(1);
    expect(cli(lab, ['verify', '--store', dir, '--store', b, '--json']).exit).toBe(1);
  });

  it('index.sqlite symlinked to the anchor: queries and reindex must not write through it', async () => {
    const { lab, dir } = await closedStore();
    const anchor = path.join(lab.trust, 'anchor.jsonl');
    const before = fs.readFileSync(anchor);
    fs.rmSync(path.join(dir, 'index.sqlite'), { force: true });
    fs.symlinkSync(anchor, path.join(dir, 'index.sqlite'));
    cli(lab, ['runs', '--store', dir, '--json']);
    cli(lab, ['trail', 'r1', '--store', dir, '--json']);
    cli(lab, ['reindex', '--store', dir]);
    expect(fs.readFileSync(anchor).equals(before)).toBe(true);
    expect(verify(lab, dir).exit).toBe(0);
  });
});
