import { randomBytes } from 'node:crypto';
import { constants, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { lstat, mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** What the forwarder persists next to the store: where it is, and what went wrong last. */
export interface ForwarderCursor {
  version: 1;
  /** The next store sequence number to forward; everything below it is acknowledged. */
  nextSeq: number;
  /** Spans acknowledged by the OTLP endpoint, over the cursor's lifetime. */
  delivered: number;
  /** Batches moved to the dead-letter file after a 400. */
  deadLetterBatches: number;
  deadLetterSpans: number;
  lastError?: string;
  lastErrorAt?: string;
  lastSuccessAt?: string;
  endpoint?: string;
  updatedAt: string;
}

export const FORWARDER_DIR = 'forwarder';
export const CURSOR_FILE = 'cursor.json';
export const DEAD_LETTER_FILE = 'dead-letter.jsonl';

export function forwarderDir(storeDir: string): string {
  return join(storeDir, FORWARDER_DIR);
}

export function emptyCursor(): ForwarderCursor {
  return {
    version: 1,
    nextSeq: 0,
    delivered: 0,
    deadLetterBatches: 0,
    deadLetterSpans: 0,
    updatedAt: new Date(0).toISOString(),
  };
}

/** Reads the cursor; a missing file is a fresh start, a corrupt one is an error (never a reset). */
export function readForwarderCursor(storeDir: string): ForwarderCursor {
  const file = join(forwarderDir(storeDir), CURSOR_FILE);
  let text: string;
  try {
    if (lstatSync(forwarderDir(storeDir)).isSymbolicLink() || lstatSync(file).isSymbolicLink()) {
      throw linkedDir(forwarderDir(storeDir));
    }
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyCursor();
    throw err;
  }
  const parsed = JSON.parse(text) as Partial<ForwarderCursor>;
  if (parsed.version !== 1 || !Number.isSafeInteger(parsed.nextSeq) || (parsed.nextSeq ?? -1) < 0) {
    throw new Error(
      `forwarder cursor ${file} is not a version 1 cursor; move it aside to forward everything again`,
    );
  }
  return { ...emptyCursor(), ...parsed } as ForwarderCursor;
}

export function ensureForwarderDirSync(storeDir: string): void {
  const dir = forwarderDir(storeDir);
  mkdirSync(dir, { recursive: true });
  if (!lstatSync(dir).isDirectory()) throw linkedDir(dir);
}

/**
 * The forwarder writes only into a real `forwarder/` directory and never through a symlink
 * planted in the store (docs/store-format.md, STORE_SYMLINK): a link could point its cursor or
 * dead-letter lines at any file this process may write.
 */
function linkedDir(dir: string): Error {
  return Object.assign(
    new Error(
      `refusing to write the forwarder state into ${dir}: it is a symlink or not a directory, and nothing is written through a link planted in the store; move it aside and check who could write the store`,
    ),
    { code: 'STORE_SYMLINK' },
  );
}

async function realDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (!(await lstat(dir)).isDirectory()) throw linkedDir(dir);
}

const NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const APPEND = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW;

/**
 * Atomic replace: a crash leaves either the old or the new cursor, never a torn one. The temp
 * file is fsynced before the rename and the directory after it, so the rename survives power loss.
 */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const dir = dirname(file);
  await realDir(dir);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, NEW_FILE, 0o644);
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

export async function appendDurable(file: string, text: string): Promise<void> {
  await realDir(dirname(file));
  const fh = await open(file, APPEND, 0o644);
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsyncDir(dirname(file));
}

async function fsyncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
