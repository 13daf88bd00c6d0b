import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CliError, EXIT_IO } from './cli-error.js';

/**
 * The forwarder's persisted cursor, `<store>/forwarder/cursor.json`, version 1. The SDK's
 * Forwarder (in the agent process) and `agent-audit forward` share this file: both only move
 * `nextSeq` forward and add their counts to what is on disk, so either can run at any time
 * and the worst case of a race is a batch sent twice (at-least-once, span ids unchanged).
 */
export interface ForwarderCursorFile {
  version: 1;
  /** The next store sequence number to forward; everything below it is acknowledged. */
  nextSeq: number;
  delivered: number;
  deadLetterBatches: number;
  deadLetterSpans: number;
  lastError?: string;
  lastErrorAt?: string;
  lastSuccessAt?: string;
  endpoint?: string;
  updatedAt: string;
}

export const cursorPath = (storeDir: string): string => join(storeDir, 'forwarder', 'cursor.json');
export const deadLetterPath = (storeDir: string): string =>
  join(storeDir, 'forwarder', 'dead-letter.jsonl');

export function emptyCursor(): ForwarderCursorFile {
  return {
    version: 1,
    nextSeq: 0,
    delivered: 0,
    deadLetterBatches: 0,
    deadLetterSpans: 0,
    updatedAt: new Date(0).toISOString(),
  };
}

/** A missing file is a fresh start; a corrupt one is an error, never a silent reset to 0. */
export async function readCursor(storeDir: string): Promise<ForwarderCursorFile> {
  const file = cursorPath(storeDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyCursor();
    throw error;
  }
  let parsed: Partial<ForwarderCursorFile>;
  try {
    parsed = JSON.parse(text) as Partial<ForwarderCursorFile>;
  } catch {
    parsed = {};
  }
  if (parsed.version !== 1 || !Number.isSafeInteger(parsed.nextSeq) || (parsed.nextSeq ?? -1) < 0) {
    throw new CliError(
      `forwarder cursor ${file} is not a version 1 cursor; move it aside to forward everything again`,
      EXIT_IO,
    );
  }
  return { ...emptyCursor(), ...parsed } as ForwarderCursorFile;
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Temp file, fsync, rename, fsync the directory: a crash leaves the old or the new cursor. */
export async function writeCursor(storeDir: string, cursor: ForwarderCursorFile): Promise<void> {
  const file = cursorPath(storeDir);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(tmp, 'w', 0o644);
  try {
    await handle.writeFile(`${JSON.stringify(cursor, null, 2)}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await fsyncDir(dirname(file));
}

/** Appends one line and makes it durable before the cursor moves past the batch it holds. */
export async function appendDeadLetter(storeDir: string, line: string): Promise<void> {
  const file = deadLetterPath(storeDir);
  await mkdir(dirname(file), { recursive: true });
  const handle = await open(file, 'a', 0o644);
  try {
    await handle.writeFile(line, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsyncDir(dirname(file));
}
