import { createHmac, hash as oneShotHash, timingSafeEqual } from 'node:crypto';
import {
  CanonicalJsonError,
  KeyOrder,
  LenientJsonWriter,
  messageOf,
  PlainUtf8Writer,
} from '@agent-audit/canonical-json';
import { secretKeyProblem } from './secret-key.js';

/** A keyed-hash key. `id` is recorded next to every hash; `secret` never leaves the process. */
export interface HashKey {
  /** Recorded in the hash (`hmac-sha256:<id>:<hex>`): 1–64 of `A-Z a-z 0-9 . _ -`. */
  readonly id: string;
  /** At least 16 bytes (a string is taken as UTF-8). */
  readonly secret: string | Uint8Array;
}

export interface HashValueOptions {
  /** When given, the hash is `hmac-sha256:<key.id>:<hex>` instead of `sha256:<hex>`. */
  key?: HashKey | undefined;
  /**
   * Largest canonical form accepted, in UTF-16 code units of the canonical JSON text.
   * The default value is 64 Mi (67,108,864).
   */
  maxSize?: number;
  /**
   * Deepest nesting of arrays/objects accepted. The default value is 1000. (The walk is
   * iterative, so a larger value costs memory, not stack.)
   */
  maxDepth?: number;
}

/** Why a value could not be hashed. */
export type HashErrorCode =
  | 'cycle'
  | 'too_deep'
  | 'too_large'
  | 'unsupported_type'
  | 'read_failed'
  | 'invalid_key';

export type HashResult =
  | { ok: true; hash: string }
  | { ok: false; code: HashErrorCode; error: string };

export type CanonicalJsonResult =
  | { ok: true; json: string }
  | { ok: false; code: HashErrorCode; error: string };

export const DEFAULT_HASH_MAX_SIZE = 64 * 1024 * 1024;
export const DEFAULT_HASH_MAX_DEPTH = 1000;

/** Returns why `key` is unusable, or undefined when it is fine. */
export function hashKeyProblem(key: unknown): string | undefined {
  return secretKeyProblem(key);
}

/**
 * Hashes a value over its RFC 8785 canonical JSON. Never throws.
 *
 * Values JSON cannot carry get one documented form (see the package README): `-0` → `0`;
 * NaN/±Infinity → `null`; BigInt → its decimal string; `undefined`, functions and symbols are
 * left out of objects and become `null` in arrays (as `JSON.stringify` does); Date and anything
 * with `toJSON` → the `toJSON()` result; Map → array of `[key, value]` pairs and Set → array of
 * values, both in iteration order; Buffer, typed arrays, DataView, ArrayBuffer →
 * `{"$base64":"…"}`; boxed primitives → the primitive; class instances → their own enumerable
 * string-keyed properties; lone surrogates → `\udxxx` escapes. Cycles, nesting beyond
 * `maxDepth`, a form larger than `maxSize`, a top-level undefined/function/symbol and getters or
 * proxies that throw are reported as `{ ok: false, code, error }`.
 */
export function hashValue(value: unknown, options: HashValueOptions = {}): HashResult {
  const key = options.key;
  if (key !== undefined) {
    const problem = hashKeyProblem(key);
    if (problem !== undefined)
      return { ok: false, code: 'invalid_key', error: `invalid_key: ${problem}` };
  }
  const fast = hashPlainValue(value, key, options);
  if (fast !== undefined) return fast;
  const canonical = canonicalJson(value, options);
  if (!canonical.ok) return canonical;
  return hashCanonicalJson(canonical.json, key);
}

/**
 * The hash of `value`'s canonical JSON when only the hash is wanted: the same bytes as
 * `hashCanonicalJson(canonicalJson(value).json, key)`, or undefined when `value` is not plain
 * data (then the caller takes that careful path, which also reports every failure). Plain
 * data is written as UTF-8 straight into a reused buffer and hashed from there (see
 * `PlainUtf8Writer` in `@agent-audit/canonical-json`: a rope of a canonical string would
 * first have to be flattened, which cost more than the SHA-256 itself for a 1 KB input).
 * When `size` is given, `size.bytes` is set to the UTF-8 length of the hashed text.
 */
export function hashPlainValue(
  value: unknown,
  key: HashKey | undefined,
  options: Pick<HashValueOptions, 'maxSize' | 'maxDepth'> = {},
  size?: { bytes: number },
): HashResult | undefined {
  return hasher.plain(value, key, options, size);
}

/**
 * Hashes an already canonical JSON string (from {@link canonicalJson}), so a caller that also
 * records the canonical form does not canonicalize twice. Never throws.
 */
export function hashCanonicalJson(json: string, key?: HashKey): HashResult {
  try {
    if (key === undefined) {
      // One-shot hash (UTF-8): a fraction of createHash()'s fixed cost, paid twice per tool call.
      return { ok: true, hash: `sha256:${oneShotHash('sha256', json, 'hex')}` };
    }
    const problem = hashKeyProblem(key);
    if (problem !== undefined)
      return { ok: false, code: 'invalid_key', error: `invalid_key: ${problem}` };
    const hex = createHmac('sha256', key.secret).update(json, 'utf8').digest('hex');
    return { ok: true, hash: `hmac-sha256:${key.id}:${hex}` };
  } catch (err) {
    return {
      ok: false,
      code: 'read_failed',
      error: `read_failed: hashing failed: ${messageOf(err)}`,
    };
  }
}

/**
 * The RFC 8785 canonical JSON of a value, after the conversions listed on {@link hashValue}
 * (the lenient writer of `@agent-audit/canonical-json`). Never throws. Its output is
 * cross-checked against the `canonicalize` package on seeded random values in that package's
 * tests.
 */
export function canonicalJson(
  value: unknown,
  options: Pick<HashValueOptions, 'maxSize' | 'maxDepth'> = {},
): CanonicalJsonResult {
  return hasher.canonical(value, options);
}

// Small results repeat call after call (`{"ok":true}`, `{"status":"sent"}`): the unkeyed hash of
// the last short canonical text is remembered, and a byte compare replaces the SHA-256 call
// (~0.25-0.45 us here, a fixed cost that dominates for a dozen bytes). The hash is a pure
// function of the bytes, so the memo cannot change any output. Longer texts are not compared:
// their hash costs little more than the compare would.
const SMALL_MEMO_BYTES = 64;

/**
 * The writers and caches behind the functions above, owned by one instance: the key-order
 * cache is shared by its text and byte writers, and the small-result memo by its hashes.
 */
class ValueHasher {
  private readonly keys = new KeyOrder();
  private readonly text = new LenientJsonWriter(this.keys);
  private readonly bytes = new PlainUtf8Writer(this.keys);
  private readonly memo = new Uint8Array(SMALL_MEMO_BYTES);
  private memoLength = -1;
  private memoHash = '';

  canonical(
    value: unknown,
    options: Pick<HashValueOptions, 'maxSize' | 'maxDepth'>,
  ): CanonicalJsonResult {
    const maxSize = options.maxSize ?? DEFAULT_HASH_MAX_SIZE;
    const maxDepth = options.maxDepth ?? DEFAULT_HASH_MAX_DEPTH;
    try {
      return { ok: true, json: this.text.stringify(value, { maxSize, maxDepth }) };
    } catch (err) {
      if (err instanceof CanonicalJsonError)
        return { ok: false, code: err.code, error: err.message };
      if (err instanceof RangeError) {
        return { ok: false, code: 'too_large', error: `too_large: ${messageOf(err)}` };
      }
      // A hostile Symbol.iterator, an engine limit, …: still never thrown.
      return { ok: false, code: 'read_failed', error: `read_failed: ${messageOf(err)}` };
    }
  }

  plain(
    value: unknown,
    key: HashKey | undefined,
    options: Pick<HashValueOptions, 'maxSize' | 'maxDepth'>,
    size?: { bytes: number },
  ): HashResult | undefined {
    if (value === null || typeof value !== 'object') return undefined;
    if (key !== undefined && hashKeyProblem(key) !== undefined) return undefined;
    const bytes = this.bytes.write(
      value,
      options.maxSize ?? DEFAULT_HASH_MAX_SIZE,
      options.maxDepth ?? DEFAULT_HASH_MAX_DEPTH,
    );
    if (bytes === undefined) return undefined;
    // `input.size`/`output.size`: the byte count of the text just hashed, from the same pass.
    if (size !== undefined) size.bytes = bytes.length;
    try {
      if (key !== undefined) {
        const hex = createHmac('sha256', key.secret).update(bytes).digest('hex');
        return { ok: true, hash: `hmac-sha256:${key.id}:${hex}` };
      }
      const n = bytes.length;
      if (n > SMALL_MEMO_BYTES) {
        return { ok: true, hash: `sha256:${oneShotHash('sha256', bytes, 'hex')}` };
      }
      const memo = this.memo;
      if (n === this.memoLength) {
        let same = true;
        for (let i = 0; i < n; i++) {
          if (bytes[i] !== memo[i]) {
            same = false;
            break;
          }
        }
        if (same) return { ok: true, hash: this.memoHash };
      }
      const small = `sha256:${oneShotHash('sha256', bytes, 'hex')}`;
      for (let i = 0; i < n; i++) memo[i] = bytes[i]!;
      this.memoLength = n;
      this.memoHash = small;
      return { ok: true, hash: small };
    } catch {
      // The careful path reports it.
      return undefined;
    }
  }
}

const hasher = new ValueHasher();

/**
 * Whether `hash` (a recorded `sha256:…` or `hmac-sha256:<key-id>:…`) is the hash of `value`.
 * For keyed hashes the key is looked up by the id recorded in the hash, so hashes made before
 * a key rotation still verify with the old key. Never throws; false when the key is unknown or
 * the value cannot be hashed.
 */
export function hashMatches(
  value: unknown,
  hash: string,
  keys: readonly HashKey[] | ((id: string) => HashKey | undefined) = [],
): boolean {
  try {
    let key: HashKey | undefined;
    if (hash.startsWith('hmac-sha256:')) {
      const id = hash.slice('hmac-sha256:'.length, hash.lastIndexOf(':'));
      key = typeof keys === 'function' ? keys(id) : keys.find((k) => k.id === id);
      if (key === undefined || key.id !== id) return false;
    } else if (!hash.startsWith('sha256:')) {
      return false;
    }
    const h = hashValue(value, { key });
    return h.ok && timingSafeEqualString(h.hash, hash);
  } catch {
    return false;
  }
}

function timingSafeEqualString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
