// F6 (test/redteam/README.md): the forwarder's cursor and dead-letter file live in the store,
// where whoever can write the store may plant symlinks. Nothing is read or written through one.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  appendDurable,
  CURSOR_FILE,
  DEAD_LETTER_FILE,
  emptyCursor,
  forwarderDir,
  readForwarderCursor,
  writeFileAtomic,
} from '../src/forwarder-state.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

function lab(): { store: string; outside: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-audit-fwd-links-'));
  roots.push(root);
  const store = path.join(root, 'store');
  const outside = path.join(root, 'outside');
  fs.mkdirSync(store);
  fs.mkdirSync(outside);
  return { store, outside };
}

const cursorText = (nextSeq: number) => `${JSON.stringify({ ...emptyCursor(), nextSeq })}\n`;

describe('forwarder state and symlinks planted in the store', () => {
  it('forwarder/ linked outside: the cursor is neither written nor read there (before and after a restart)', async () => {
    const { store, outside } = lab();
    fs.symlinkSync(outside, forwarderDir(store));
    const file = path.join(forwarderDir(store), CURSOR_FILE);
    await expect(writeFileAtomic(file, cursorText(7))).rejects.toMatchObject({
      code: 'STORE_SYMLINK',
    });
    expect(fs.readdirSync(outside)).toEqual([]);
    // A restarted forwarder reads its cursor first: a cursor planted outside is refused too.
    fs.writeFileSync(path.join(outside, CURSOR_FILE), cursorText(1_000_000));
    expect(() => readForwarderCursor(store)).toThrow(/symlink/);
  });

  it('cursor.json linked to a file outside: refused on read, replaced (never written through) on write', async () => {
    const { store, outside } = lab();
    fs.mkdirSync(forwarderDir(store));
    const victim = path.join(outside, 'victim.json');
    fs.writeFileSync(victim, cursorText(1_000_000));
    const file = path.join(forwarderDir(store), CURSOR_FILE);
    fs.symlinkSync(victim, file);
    expect(() => readForwarderCursor(store)).toThrow(/symlink/);
    await writeFileAtomic(file, cursorText(3));
    expect(fs.readFileSync(victim, 'utf8')).toBe(cursorText(1_000_000));
    expect(fs.lstatSync(file).isSymbolicLink()).toBe(false);
    expect(readForwarderCursor(store).nextSeq).toBe(3);
  });

  it('dead-letter.jsonl linked to a file outside: the append fails (ELOOP), the target is untouched', async () => {
    const { store, outside } = lab();
    fs.mkdirSync(forwarderDir(store));
    const victim = path.join(outside, 'victim.txt');
    fs.writeFileSync(victim, 'outside\n');
    const file = path.join(forwarderDir(store), DEAD_LETTER_FILE);
    fs.symlinkSync(victim, file);
    await expect(appendDurable(file, '{"dead":true}\n')).rejects.toMatchObject({ code: 'ELOOP' });
    expect(fs.readFileSync(victim, 'utf8')).toBe('outside\n');
  });
});
