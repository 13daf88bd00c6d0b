import * as fs from 'node:fs';
import { StoreError } from './errors.js';
import type { FsLayer } from './fs-layer.js';

export const LOCK_FILE = 'store.lock';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else; it still holds the store.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Take the single-writer lock: `store.lock` created with O_EXCL holding our pid. A lock whose
 * pid is dead (kill -9) is taken over. The takeover renames the stale file to a private name
 * first and checks it is still the stale one, so two processes racing for a stale lock cannot
 * both win and neither can steal a fresh lock.
 */
export function acquireLock(layer: FsLayer, lockPath: string, dir: string): void {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = layer.openSync(lockPath, 'wx', 0o644);
      try {
        layer.writeSync(fd, Buffer.from(`${process.pid}\n`), 0, String(process.pid).length + 1, 0);
        layer.fsyncSync(fd);
      } finally {
        layer.closeSync(fd);
      }
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const pid = readPid(lockPath);
    if (pid !== undefined && (isAlive(pid) || pid === process.pid)) {
      throw new StoreError(
        'STORE_LOCKED',
        `store locked by pid ${pid}: ${dir} has one writer at a time (lock file ${lockPath})`,
        { dir },
      );
    }
    const aside = `${lockPath}.stale.${process.pid}`;
    try {
      layer.renameSync(lockPath, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const movedPid = readPid(aside);
    if (movedPid !== pid && movedPid !== undefined && isAlive(movedPid)) {
      // We moved a lock someone took in the meantime: put it back and give up.
      try {
        layer.linkSync(aside, lockPath);
      } catch {
        // A third process holds the name now; it is theirs either way.
      }
      layer.unlinkSync(aside);
      throw new StoreError(
        'STORE_LOCKED',
        `store locked by pid ${movedPid}: ${dir} has one writer at a time`,
        {
          dir,
        },
      );
    }
    layer.unlinkSync(aside);
  }
  throw new StoreError(
    'STORE_LOCKED',
    `could not take the lock ${lockPath} after several attempts`,
    { dir },
  );
}

export function releaseLock(layer: FsLayer, lockPath: string): void {
  if (readPid(lockPath) === process.pid) {
    try {
      layer.unlinkSync(lockPath);
    } catch {
      // Already gone; nothing to release.
    }
  }
}
