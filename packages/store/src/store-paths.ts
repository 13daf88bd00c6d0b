import * as path from 'node:path';
import { resolveStoreLocations } from './store-locations.js';

export { DEFAULT_STORE_DIR, DEFAULT_TRUST_DIR } from './store-locations.js';
export const ANCHOR_FILE = 'anchor.jsonl';
export const STORE_CHECKPOINTS_FILE = 'checkpoints.jsonl';
export const RECOVERED_DIR = 'recovered';

export interface StorePaths {
  dir: string;
  trustDir: string;
  anchorPath: string;
}

/**
 * Store and trust paths from the environment: `AGENT_AUDIT_STORE_DIR` (default
 * `./.agent-audit`) and `AGENT_AUDIT_TRUST_DIR` (default `./.agent-audit-trust`). The anchor
 * lives in the trust directory. Empty values count as unset.
 */
export function resolveStorePaths(
  env: Record<string, string | undefined> = process.env,
): StorePaths {
  const locations = resolveStoreLocations({ env });
  const dir = path.resolve(locations.storeDir);
  const trustDir = path.resolve(locations.trustDir);
  return { dir, trustDir, anchorPath: path.join(trustDir, ANCHOR_FILE) };
}

/** True when `inner` is `outer` or inside it. */
export function isInside(inner: string, outer: string): boolean {
  const rel = path.relative(path.resolve(outer), path.resolve(inner));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
