import * as fs from 'node:fs';
import { StoreError } from './errors.js';
import { type FsLayer, noFollow } from './fs-layer.js';

export const LOCK_FILE = 'store.lock';

/**
 * Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), or
 * undefined where /proc is not available. Together with the pid it identifies a process:
 * a pid alone is reused, e.g. an agent that runs as pid 1 in a container restarted after
 * kill -9 would otherwise find "its own" pid in the stale lock and never start.
 */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

interface LockOwner {
  pid: number;
  start: string | undefined;
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const [pidText, start] = fs.readFileSync(file, 'utf8').trim().split(/\s+/);
    const pid = Number.parseInt(pidText ?? '', 10);
    return Number.isSafeInteger(pid) && pid > 0 ? { pid, start } : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(owner: LockOwner): boolean {
  if (owner.start !== undefined) {
    const now = startTimeOf(owner.pid);
    if (now !== undefined) return now === owner.start;
    if (fs.existsSync('/proc/self/stat')) return false; // /proc works: no such process
  }
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else; it still holds the store.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockedError(pid: number, dir: string, lockPath: string): StoreError {
  return new StoreError(
    'STORE_LOCKED',
    `store locked by pid ${pid}: ${dir} has one writer at a time (lock file ${lockPath})`,
    { dir },
  );
}

/**
 * Take the single-writer lock: `store.lock`, created with O_EXCL, holding our pid and process
 * start time. A lock whose process is gone (kill -9) is taken over. The takeover renames the
 * stale file to a private name first and checks it is still the stale one, so two processes
 * racing for a stale lock cannot both win and neither can steal a fresh lock.
 */
export function acquireLock(layer: FsLayer, lockPath: string, dir: string): void {
  const start = startTimeOf(process.pid);
  const content = Buffer.from(`${process.pid}${start === undefined ? '' : ` ${start}`}\n`);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = layer.openSync(lockPath, noFollow('wx'), 0o600);
      try {
        layer.writeSync(fd, content, 0, content.length, 0);
        layer.fsyncSync(fd);
      } finally {
        layer.closeSync(fd);
      }
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = readOwner(lockPath);
    if (owner && isAlive(owner)) throw lockedError(owner.pid, dir, lockPath);
    const aside = `${lockPath}.stale.${process.pid}`;
    try {
      layer.renameSync(lockPath, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const moved = readOwner(aside);
    if (moved && (moved.pid !== owner?.pid || moved.start !== owner?.start) && isAlive(moved)) {
      // We moved a lock someone took in the meantime: put it back and give up.
      try {
        layer.linkSync(aside, lockPath);
      } catch {
        // A third process holds the name now; it is theirs either way.
      }
      layer.unlinkSync(aside);
      throw lockedError(moved.pid, dir, lockPath);
    }
    layer.unlinkSync(aside);
  }
  throw new StoreError(
    'STORE_LOCKED',
    `could not take the lock ${lockPath} after several attempts`,
    {
      dir,
    },
  );
}

export function releaseLock(layer: FsLayer, lockPath: string): void {
  if (readOwner(lockPath)?.pid === process.pid) {
    try {
      layer.unlinkSync(lockPath);
    } catch {
      // Already gone; nothing to release.
    }
  }
}
