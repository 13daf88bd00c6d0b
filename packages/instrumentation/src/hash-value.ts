import { createHash, createHmac } from 'node:crypto';
import { types } from 'node:util';
import canonicalize from './internal/canonicalize.js';

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
   * Largest canonical form accepted, counted in characters before JSON escaping.
   * The default value is 64 Mi (67,108,864).
   */
  maxSize?: number;
  /**
   * Deepest nesting of arrays/objects accepted. The default value is 1000, which is also the
   * upper bound: the final serialization is recursive and must keep stack headroom.
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

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const MIN_SECRET_BYTES = 16;

/** Returns why `key` is unusable, or undefined when it is fine. */
export function hashKeyProblem(key: unknown): string | undefined {
  if (key === null || typeof key !== 'object')
    return `expected { id, secret } (actual: ${typeof key})`;
  const { id, secret } = key as Partial<HashKey>;
  if (typeof id !== 'string' || !KEY_ID.test(id)) {
    return `expected id of 1-64 characters [A-Za-z0-9._-] (actual: ${JSON.stringify(id)})`;
  }
  const bytes =
    typeof secret === 'string'
      ? Buffer.byteLength(secret, 'utf8')
      : secret instanceof Uint8Array
        ? secret.byteLength
        : -1;
  if (bytes < MIN_SECRET_BYTES) {
    return `expected a secret of at least ${MIN_SECRET_BYTES} bytes (actual: ${bytes < 0 ? typeof secret : `${bytes} bytes`})`;
  }
  return undefined;
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
  const canonical = canonicalJson(value, options);
  if (!canonical.ok) return canonical;
  return hashCanonicalJson(canonical.json, key);
}

/**
 * Hashes an already canonical JSON string (from {@link canonicalJson}), so a caller that also
 * records the canonical form does not canonicalize twice. Never throws.
 */
export function hashCanonicalJson(json: string, key?: HashKey): HashResult {
  try {
    if (key === undefined) {
      return {
        ok: true,
        hash: `sha256:${createHash('sha256').update(json, 'utf8').digest('hex')}`,
      };
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
 * The RFC 8785 canonical JSON of a value, after the conversions listed on {@link hashValue}.
 * Never throws. The walk is iterative, so untrusted nesting cannot overflow the stack; the
 * `canonicalize` package only ever sees a plain, acyclic, depth-checked tree.
 */
export function canonicalJson(
  value: unknown,
  options: Pick<HashValueOptions, 'maxSize' | 'maxDepth'> = {},
): CanonicalJsonResult {
  const maxSize = options.maxSize ?? DEFAULT_HASH_MAX_SIZE;
  const maxDepth = Math.min(options.maxDepth ?? DEFAULT_HASH_MAX_DEPTH, DEFAULT_HASH_MAX_DEPTH);
  let tree: unknown;
  try {
    tree = new Walker(maxSize, maxDepth).run(value);
  } catch (err) {
    if (err instanceof WalkFailure) return { ok: false, code: err.code, error: err.message };
    // Out of memory for a huge Map copy, a hostile Symbol.iterator, …: still never thrown.
    return { ok: false, code: 'read_failed', error: `read_failed: ${messageOf(err)}` };
  }
  try {
    const json = canonicalize(tree);
    if (typeof json !== 'string') {
      return { ok: false, code: 'unsupported_type', error: 'unsupported_type: no JSON form' };
    }
    return { ok: true, json };
  } catch (err) {
    return { ok: false, code: 'read_failed', error: `read_failed: ${messageOf(err)}` };
  }
}

class WalkFailure extends Error {
  constructor(
    readonly code: HashErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

const OMIT = Symbol('omit');

interface Frame {
  readonly src: unknown;
  /** Own keys for objects; undefined for arrays. */
  readonly keys: string[] | undefined;
  readonly length: number;
  readonly dst: unknown[] | Record<string, unknown>;
  readonly guard: object;
  readonly depth: number;
  i: number;
}

// Rough canonical sizes; they only have to bound memory and time, not be exact.
const SIZE_NUMBER = 8;
const SIZE_LITERAL = 5;

class Walker {
  private size = 0;
  private readonly stack: Frame[] = [];
  private readonly onPath = new Set<object>();

  constructor(
    private readonly maxSize: number,
    private readonly maxDepth: number,
  ) {}

  run(root: unknown): unknown {
    const out = this.prepare(root, false, 0, true);
    if (out === OMIT) {
      throw new WalkFailure('unsupported_type', `a top-level ${typeof root} has no JSON form`);
    }
    const stack = this.stack;
    while (stack.length > 0) {
      const f = stack[stack.length - 1]!;
      if (f.i >= f.length) {
        stack.pop();
        this.onPath.delete(f.guard);
        continue;
      }
      const index = f.i++;
      if (f.keys === undefined) {
        const v = this.read(f.src, index);
        (f.dst as unknown[])[index] = this.prepare(v, true, f.depth, true);
      } else {
        const key = f.keys[index]!;
        const v = this.read(f.src, key);
        const child = this.prepare(v, false, f.depth, true);
        if (child !== OMIT) {
          (f.dst as Record<string, unknown>)[key] = child;
          this.grow(key.length + 4);
        }
      }
    }
    return out;
  }

  private read(src: unknown, key: string | number): unknown {
    try {
      return (src as Record<string | number, unknown>)[key];
    } catch (err) {
      throw new WalkFailure('read_failed', `reading ${this.path()} threw: ${messageOf(err)}`);
    }
  }

  private grow(n: number): void {
    this.size += n;
    if (this.size > this.maxSize) {
      throw new WalkFailure('too_large', `canonical form exceeds ${this.maxSize} characters`);
    }
  }

  /** Returns the JSON form of `v`, a container whose frame is pushed, or OMIT. */
  private prepare(v: unknown, inArray: boolean, depth: number, allowToJson: boolean): unknown {
    switch (typeof v) {
      case 'string':
        this.grow(v.length + 2);
        return v;
      case 'number':
        this.grow(SIZE_NUMBER);
        if (!Number.isFinite(v)) return null;
        return v === 0 ? 0 : v;
      case 'boolean':
        this.grow(SIZE_LITERAL);
        return v;
      case 'bigint': {
        const s = v.toString();
        this.grow(s.length + 2);
        return s;
      }
      case 'undefined':
      case 'function':
      case 'symbol':
        this.grow(SIZE_LITERAL);
        return inArray ? null : OMIT;
      default:
        if (v === null) {
          this.grow(SIZE_LITERAL);
          return null;
        }
        return this.prepareObject(v as object, inArray, depth, allowToJson);
    }
  }

  private prepareObject(o: object, inArray: boolean, depth: number, allowToJson: boolean): unknown {
    if (this.onPath.has(o)) {
      throw new WalkFailure('cycle', `value refers to itself at ${this.path()}`);
    }
    const childDepth = depth + 1;
    if (childDepth > this.maxDepth) {
      throw new WalkFailure('too_deep', `nesting deeper than ${this.maxDepth} at ${this.path()}`);
    }
    try {
      if (types.isProxy(o) === false) {
        if (ArrayBuffer.isView(o) || types.isAnyArrayBuffer(o)) return this.binary(o);
        if (types.isBoxedPrimitive(o)) return this.prepare(o.valueOf(), inArray, depth, false);
        if (types.isMap(o)) {
          this.grow((o as Map<unknown, unknown>).size * 2);
          return this.push(Array.from(o as Map<unknown, unknown>), undefined, o, childDepth);
        }
        if (types.isSet(o)) {
          this.grow((o as Set<unknown>).size);
          return this.push(Array.from(o as Set<unknown>), undefined, o, childDepth);
        }
      }
      if (allowToJson) {
        const toJson = (o as { toJSON?: unknown }).toJSON;
        if (typeof toJson === 'function') {
          return this.prepare(toJson.call(o, ''), inArray, depth, false);
        }
      }
      if (Array.isArray(o)) {
        this.grow(o.length + 2);
        return this.push(o, undefined, o, childDepth);
      }
      const keys = Object.keys(o);
      this.grow(keys.length + 2);
      return this.push(o, keys, o, childDepth);
    } catch (err) {
      if (err instanceof WalkFailure) throw err;
      throw new WalkFailure('read_failed', `reading ${this.path()} threw: ${messageOf(err)}`);
    }
  }

  private binary(o: ArrayBufferView | ArrayBufferLike): Record<string, unknown> {
    const bytes = ArrayBuffer.isView(o)
      ? Buffer.from(o.buffer, o.byteOffset, o.byteLength)
      : Buffer.from(o as ArrayBuffer);
    // Check the size before encoding so a 100 MB buffer is never copied.
    this.grow(Math.ceil(bytes.length / 3) * 4 + 14);
    const out = Object.create(null) as Record<string, unknown>;
    out.$base64 = bytes.toString('base64');
    return out;
  }

  private push(src: unknown, keys: string[] | undefined, guard: object, depth: number): unknown {
    const length = keys === undefined ? (src as unknown[]).length : keys.length;
    const dst = keys === undefined ? new Array<unknown>(length) : Object.create(null);
    this.onPath.add(guard);
    this.stack.push({ src, keys, length, dst, guard, depth, i: 0 });
    return dst;
  }

  /** JSONPath-like location of the value being read, shortened when deep. */
  private path(): string {
    const parts: string[] = [];
    const stack = this.stack;
    const show = (f: Frame) => {
      const index = f.i - 1;
      if (index < 0) return;
      parts.push(f.keys === undefined ? `[${index}]` : `.${JSON.stringify(f.keys[index])}`);
    };
    if (stack.length <= 16) {
      for (const f of stack) show(f);
    } else {
      for (let i = 0; i < 8; i++) show(stack[i]!);
      parts.push(`…(${stack.length - 16} levels)…`);
      for (let i = stack.length - 8; i < stack.length; i++) show(stack[i]!);
    }
    return `$${parts.join('')}`;
  }
}

function messageOf(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return 'unprintable error';
  }
}
