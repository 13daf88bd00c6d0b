import * as fs from 'node:fs';
import { StoreError } from './errors.js';
import type { FsLayer } from './fs-layer.js';
import { isInside } from './store-paths.js';

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
