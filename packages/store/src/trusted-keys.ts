import type { KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkTrustLocation } from './custody.js';
import { StoreError } from './errors.js';
import { keyIdOf, PUBLIC_KEY_FILE, toPublicKey } from './signing-keys.js';

export interface TrustedKeys {
  keys: Map<string, KeyObject>;
  /** Keys that were offered but refused, with why. */
  refused: string[];
}

/**
 * Resolve the keys verify may trust. A key given as a path inside the store directory is
 * refused: whoever can edit the store could swap it (RELIABILITY row 13).
 */
export function loadTrustedKeys(
  storeDir: string,
  publicKey: KeyObject | string | Array<KeyObject | string> | undefined,
  trustDir: string,
): TrustedKeys {
  const result: TrustedKeys = { keys: new Map(), refused: [] };
  const offered: Array<{ key: KeyObject | string; source: string }> = [];
  if (publicKey !== undefined) {
    for (const k of Array.isArray(publicKey) ? publicKey : [publicKey]) {
      offered.push({
        key: k,
        source: typeof k === 'string' && !k.includes('-----BEGIN') ? k : 'option',
      });
    }
  } else {
    const file = path.join(trustDir, PUBLIC_KEY_FILE);
    if (fs.existsSync(file)) offered.push({ key: file, source: file });
  }
  for (const { key, source } of offered) {
    let material: KeyObject | string = key;
    if (typeof key === 'string' && !key.includes('-----BEGIN')) {
      // The writer's check (custody.ts), on the path as given and on where it really leads:
      // a symbolic link into the store is inside it too. Refused keys are reported, not
      // thrown, so that verify still checks everything else (and never says 0 without a key).
      try {
        checkTrustLocation(storeDir, { publicKeyPath: key });
        checkTrustLocation(realOrSame(storeDir), { publicKeyPath: realOrSame(key) });
      } catch (error) {
        result.refused.push((error as Error).message);
        continue;
      }
      try {
        material = fs.readFileSync(key, 'utf8');
      } catch (error) {
        throw new StoreError(
          'KEY_UNREADABLE',
          `cannot read public key ${key}: ${(error as Error).message}`,
        );
      }
    }
    let object: KeyObject;
    try {
      object = toPublicKey(material, source);
    } catch (error) {
      throw new StoreError(
        'KEY_INVALID',
        `public key ${source} is not an Ed25519 key: ${(error as Error).message}`,
      );
    }
    result.keys.set(keyIdOf(object), object);
  }
  return result;
}

/** The path with symlinks resolved (a link into the store is inside it), when it exists. */
function realOrSame(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}
