import * as fs from 'node:fs';
import * as path from 'node:path';
import { StoreError } from './errors.js';
import type { FsLayer } from './fs-layer.js';
import { LOCK_FILE } from './lock-file.js';
import { SEGMENTS_DIR } from './segment-files.js';
import { isInside, RECOVERED_DIR, STORE_CHECKPOINTS_FILE } from './store-paths.js';

/**
 * Custody on disk (docs/store-format.md, "Writer guarantees"): store directories are 0700 and
 * store files 0600 (sealed segments 0400) whatever the umask, and the trust material lives
 * outside the store, in a directory only its owner can enter.
 */

/** Create `dir` (and missing parents) as 0700; tighten it to 0700 when it already exists. */
export function makePrivateDir(layer: FsLayer, dir: string): void {
  layer.mkdirSync(dir, { recursive: true, mode: 0o700 });
  let mode: number;
  try {
    mode = fs.statSync(dir).mode & 0o777;
  } catch {
    return;
  }
  if (mode !== 0o700) {
    try {
      layer.chmodSync(dir, 0o700);
    } catch {
      // Not ours to change (e.g. a shared mount): the files inside stay 0600 regardless.
    }
  }
}

/**
 * Refuse trust material inside the store: whoever can write the store could then replace
 * the key or the anchor the store is checked against.
 */
export function checkTrustLocation(
  storeDir: string,
  trust: { trustDir?: string; anchorPath?: string; publicKeyPath?: string },
): void {
  const named: Array<[string, string | undefined]> = [
    ['trust directory', trust.trustDir],
    ['anchor file', trust.anchorPath],
    ['public key', trust.publicKeyPath],
  ];
  for (const [what, where] of named) {
    if (where !== undefined && isInside(where, storeDir)) {
      throw new StoreError(
        'TRUST_INSIDE_STORE',
        `refusing to use the ${what} ${where}: it is inside the audit store ${storeDir}, where anyone who can write the store could replace it. Keep trust material outside the store (AGENT_AUDIT_TRUST_DIR, ideally on another volume).`,
        { dir: storeDir },
      );
    }
  }
}

/**
 * A trust directory others can enter is repaired to 0700, with a warning (the signing key in
 * it may already have been read); one that cannot be repaired is refused. A missing directory
 * is fine (it is created 0700 when the key pair is generated).
 */
export function secureTrustDir(
  trustDir: string,
  notice: (code: string, message: string) => void,
): void {
  let mode: number;
  try {
    mode = fs.statSync(trustDir).mode & 0o777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if ((mode & 0o077) === 0) return;
  try {
    fs.chmodSync(trustDir, 0o700);
  } catch (error) {
    throw new StoreError(
      'TRUST_DIR_EXPOSED',
      `refusing to use the trust directory ${trustDir}: it is open to group or others (mode ${mode.toString(8)}) and cannot be made private (${(error as Error).message}); run chmod 700 ${trustDir} as its owner, and replace the signing key if others may have read it.`,
    );
  }
  const message = `trust directory ${trustDir} was open to group or others (mode ${mode.toString(8)}); it was changed to 700. If others may have read the signing key in it, generate a new key pair (agent-audit keygen).`;
  notice('TRUST_DIR_REPAIRED', message);
  try {
    process.emitWarning(message, {
      type: 'AgentAuditWarning',
      code: 'AGENT_AUDIT_TRUST_DIR_REPAIRED',
    });
  } catch {
    // A warning sink must not stop the store from opening.
  }
}

/** Directories inside the store the writer (or the forwarder) writes into. */
const STORE_DIRS = [SEGMENTS_DIR, RECOVERED_DIR, 'forwarder'];
/** Files directly in the store the writer opens. */
const STORE_FILES = [STORE_CHECKPOINTS_FILE, LOCK_FILE, 'index.sqlite'];

function symlinkError(storeDir: string, where: string, what: string): StoreError {
  return new StoreError(
    'STORE_SYMLINK',
    `refusing to open audit store ${storeDir}: ${where} is ${what}, and the writer never writes through a link planted in the store (it could point at the signing key or at any file the writer may write). Move the link aside and check who could write the store; the store directory itself may be a symlink, nothing beneath it.`,
    { dir: storeDir },
  );
}

/**
 * The symlinks where the store keeps its evidence and the writer writes (paths relative to the
 * store): `segments/`, `recovered/`, `forwarder/` and the entries in them, `checkpoints.jsonl`,
 * `store.lock`, `index.sqlite`. The writer never creates one; verify reports each as
 * `STORE_SYMLINK` (1). The store directory itself may be a symlink: only what lies beneath it
 * counts.
 */
export function storeLinks(storeDir: string): string[] {
  const root = fs.realpathSync(storeDir);
  const links: string[] = [];
  const isLink = (rel: string): boolean => {
    try {
      return fs.lstatSync(path.join(root, rel)).isSymbolicLink();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  };
  for (const name of STORE_FILES) if (isLink(name)) links.push(name);
  for (const name of STORE_DIRS) {
    if (isLink(name)) {
      links.push(name);
      continue;
    }
    let children: fs.Dirent[];
    try {
      children = fs.readdirSync(path.join(root, name), { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw error;
    }
    for (const child of children) {
      if (child.isSymbolicLink()) links.push(path.join(name, child.name));
    }
  }
  return links;
}

/** `STORE_SYMLINK` unless `sub` (inside the store `storeDir`) is a real directory. */
export function assertRealDir(storeDir: string, sub: string): void {
  const st = fs.lstatSync(sub);
  if (!st.isDirectory()) {
    throw symlinkError(storeDir, sub, st.isSymbolicLink() ? 'a symlink' : 'not a directory');
  }
}

/**
 * Refuse a store with a symlink (or other non-regular entry) where the writer writes, before
 * anything is written (docs/store-format.md, "Writer guarantees"): `segments/`, `recovered/`
 * and `forwarder/` must be real directories, the files in them and `checkpoints.jsonl`,
 * `store.lock`, `index.sqlite` real files. The store directory itself may be a symlink: it is
 * resolved once, here, and only what lies beneath it is checked. Opens also use O_NOFOLLOW
 * (`noFollow`), which closes the window between this check and the open.
 */
export function checkStoreTree(storeDir: string): void {
  const link = storeLinks(storeDir)[0];
  if (link !== undefined) throw symlinkError(storeDir, path.join(storeDir, link), 'a symlink');
  const root = fs.realpathSync(storeDir);
  const entry = (name: string): fs.Stats | undefined => {
    try {
      return fs.lstatSync(path.join(root, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  };
  for (const name of STORE_FILES) {
    const st = entry(name);
    if (st && !st.isFile()) {
      throw symlinkError(storeDir, path.join(storeDir, name), 'not a regular file');
    }
  }
  for (const name of STORE_DIRS) {
    const st = entry(name);
    if (st && !st.isDirectory()) {
      throw symlinkError(storeDir, path.join(storeDir, name), 'not a directory');
    }
  }
}
