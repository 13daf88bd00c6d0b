import * as fs from 'node:fs';
import * as path from 'node:path';
import { StoreError } from './errors.js';
import { INDEX_FILE, isIndexFailure, StoreIndex } from './store-index.js';

/**
 * Rebuild the index of a store from its segments (`agent-audit reindex`), whatever the index
 * file holds now: a damaged, truncated or foreign file (another application's database, another
 * store's index, garbage) is removed with its `-wal` and `-shm` files and written anew. Returns
 * the number of records indexed.
 */
export function reindexStore(
  dir: string,
  options: { indexPath?: string } = {},
): { records: number; replaced: boolean } {
  const root = path.resolve(dir);
  const file = options.indexPath ?? path.join(root, INDEX_FILE);
  let replaced = false;
  let opened = StoreIndex.open(root, file);
  if (!opened.index) {
    if (fs.existsSync(file) && !fs.statSync(file).isFile()) {
      throw new StoreError(
        'INDEX_NOT_WRITABLE',
        `${file} is not a file; move it away, then run agent-audit reindex again`,
        { dir: root },
      );
    }
    // A file that is not a usable index goes; one that cannot be written (a read-only
    // volume) stays, and the error below says so.
    if (opened.problem !== undefined) {
      replaced = removeIndexFiles(file, root);
      opened = StoreIndex.open(root, file);
    }
  }
  const index = opened.index;
  if (!index) {
    throw new StoreError(
      'INDEX_NOT_WRITABLE',
      `cannot open the index ${file} for writing${opened.problem ? ` (${opened.problem})` : ''}; reindex needs write access to the store directory (or pass indexPath)`,
      { dir: root },
    );
  }
  try {
    return { records: index.rebuild(), replaced };
  } catch (error) {
    if (!isIndexFailure(error)) throw error;
    // Opened, but damaged further in (a truncated file): start from an empty file.
    index.close();
    removeIndexFiles(file, root);
    const fresh = StoreIndex.open(root, file).index;
    if (!fresh) throw error;
    try {
      return { records: fresh.rebuild(), replaced: true };
    } finally {
      fresh.close();
    }
  } finally {
    try {
      index.close();
    } catch {
      // closed above
    }
  }
}

function removeIndexFiles(file: string, root: string): boolean {
  let removed = false;
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    try {
      fs.rmSync(f);
      removed = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new StoreError(
          'INDEX_NOT_WRITABLE',
          `cannot remove the damaged index ${f} (${(error as Error).message}); remove it by hand, then run agent-audit reindex`,
          { dir: root },
        );
      }
    }
  }
  return removed;
}
