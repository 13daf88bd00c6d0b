import { createHmac, hash as oneShotHash } from 'node:crypto';
import { types } from 'node:util';

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
 * The RFC 8785 canonical JSON of a value, after the conversions listed on {@link hashValue}.
 * Never throws.
 *
 * Two iterative passes, so untrusted depth never recurses in JavaScript: a walk that converts
 * the value into a plain acyclic copy with every object's keys inserted in RFC 8785 order
 * (UTF-16 code units, `Array.prototype.sort`'s default), then the engine's `JSON.stringify`
 * of that copy, whose string escaping (RFC 8785 section 3.2.2.2) and Number-to-String
 * (section 3.2.2.3) are exactly what RFC 8785 specifies. Engines enumerate array-index keys
 * ("2", "10") numerically, not as strings, and the native serializer recurses; objects with
 * such keys and depths above the default therefore go through our own iterative emitter.
 * Measured on a 1 KB input, the copy plus native serializer is about twice as fast as either
 * the emitter or the `canonicalize` package; the tests cross-check all three.
 */
export function canonicalJson(
  value: unknown,
  options: Pick<HashValueOptions, 'maxSize' | 'maxDepth'> = {},
): CanonicalJsonResult {
  const maxSize = options.maxSize ?? DEFAULT_HASH_MAX_SIZE;
  const maxDepth = options.maxDepth ?? DEFAULT_HASH_MAX_DEPTH;
  try {
    const copier = new Copier(maxSize, maxDepth);
    const tree = copier.run(value);
    const json =
      copier.indexKeys || copier.deepest > NATIVE_MAX_DEPTH
        ? new Emitter(maxSize).run(tree)
        : JSON.stringify(tree);
    if (json.length > maxSize) {
      return {
        ok: false,
        code: 'too_large',
        error: `too_large: canonical form exceeds ${maxSize} characters`,
      };
    }
    return { ok: true, json };
  } catch (err) {
    if (err instanceof WalkFailure) return { ok: false, code: err.code, error: err.message };
    if (err instanceof RangeError) {
      return { ok: false, code: 'too_large', error: `too_large: ${messageOf(err)}` };
    }
    // A hostile Symbol.iterator, an engine limit, …: still never thrown.
    return { ok: false, code: 'read_failed', error: `read_failed: ${messageOf(err)}` };
  }
}

/** Depth up to which the engine's recursive serializer is used. */
const NATIVE_MAX_DEPTH = DEFAULT_HASH_MAX_DEPTH;

/** Array-index property names, which engines enumerate before all other keys, numerically. */
const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/;

class WalkFailure extends Error {
  constructor(
    readonly code: HashErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

const OMIT = Symbol('omit');

interface CopyFrame {
  readonly src: unknown;
  /** Own keys in RFC 8785 order for objects; undefined for arrays. */
  readonly keys: string[] | undefined;
  readonly length: number;
  readonly dst: unknown[] | Record<string, unknown>;
  readonly guard: object;
  readonly depth: number;
  i: number;
}

// Rough sizes of the canonical text; only to refuse early, the exact check is on the output.
const SIZE_NUMBER = 2;
const SIZE_LITERAL = 4;

/** Converts a value into a plain, acyclic, key-sorted copy, iteratively. */
class Copier {
  /** Some object has an array-index key: native key order would differ from RFC 8785. */
  indexKeys = false;
  deepest = 0;
  private size = 0;
  private readonly stack: CopyFrame[] = [];
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
        const child = this.prepare(this.read(f.src, key), false, f.depth, true);
        if (child === OMIT) continue;
        this.grow(key.length + 4);
        if (key === '__proto__') {
          // A plain assignment would set the prototype instead of adding the key.
          Object.defineProperty(f.dst, key, {
            value: child,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        } else {
          (f.dst as Record<string, unknown>)[key] = child;
        }
      }
    }
    return out;
  }

  private read(src: unknown, key: string | number): unknown {
    try {
      return (src as Record<string | number, unknown>)[key];
    } catch (err) {
      throw new WalkFailure(
        'read_failed',
        `reading ${pathOf(this.stack)} threw: ${messageOf(err)}`,
      );
    }
  }

  private grow(n: number): void {
    this.size += n;
    if (this.size > this.maxSize) {
      throw new WalkFailure('too_large', `canonical form exceeds ${this.maxSize} characters`);
    }
  }

  /** Returns the JSON-safe form of `v` (a container's frame is pushed), or OMIT. */
  private prepare(v: unknown, inArray: boolean, depth: number, allowToJson: boolean): unknown {
    switch (typeof v) {
      case 'string':
        this.grow(v.length + 2);
        return v;
      case 'number':
        this.grow(SIZE_NUMBER);
        // -0 and non-finite numbers serialize as 0 and null; normalized here for the emitter.
        return Number.isFinite(v) ? (v === 0 ? 0 : v) : null;
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
      throw new WalkFailure('cycle', `value refers to itself at ${pathOf(this.stack)}`);
    }
    const childDepth = depth + 1;
    if (childDepth > this.maxDepth) {
      throw new WalkFailure(
        'too_deep',
        `nesting deeper than ${this.maxDepth} at ${pathOf(this.stack)}`,
      );
    }
    try {
      // Plain objects and arrays, the common case, skip the exotic-type checks.
      const proto = Object.getPrototypeOf(o);
      const plain = proto === Object.prototype || proto === Array.prototype || proto === null;
      if (!plain && types.isProxy(o) === false) {
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
      keys.sort();
      if (!this.indexKeys && keys.length > 1) {
        for (const k of keys) {
          if (ARRAY_INDEX.test(k)) {
            this.indexKeys = true;
            break;
          }
        }
      }
      return this.push(o, keys, o, childDepth);
    } catch (err) {
      if (err instanceof WalkFailure) throw err;
      throw new WalkFailure(
        'read_failed',
        `reading ${pathOf(this.stack)} threw: ${messageOf(err)}`,
      );
    }
  }

  private binary(o: ArrayBufferView | ArrayBufferLike): Record<string, unknown> {
    const bytes = ArrayBuffer.isView(o)
      ? Buffer.from(o.buffer, o.byteOffset, o.byteLength)
      : Buffer.from(o as ArrayBuffer);
    // Check the size before encoding so a 100 MB buffer is never copied.
    this.grow(Math.ceil(bytes.length / 3) * 4 + 14);
    return { $base64: bytes.toString('base64') };
  }

  private push(src: unknown, keys: string[] | undefined, guard: object, depth: number): unknown {
    const length = keys === undefined ? (src as unknown[]).length : keys.length;
    const dst = keys === undefined ? new Array<unknown>(length) : {};
    if (depth > this.deepest) this.deepest = depth;
    this.onPath.add(guard);
    this.stack.push({ src, keys, length, dst, guard, depth, i: 0 });
    return dst;
  }
}

/** JSONPath-like location of the value being read, shortened when deep. */
function pathOf(
  stack: ReadonlyArray<{ readonly keys: string[] | undefined; readonly i: number }>,
): string {
  const parts: string[] = [];
  const show = (f: { readonly keys: string[] | undefined; readonly i: number }) => {
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

/**
 * Writes RFC 8785 text for a plain, acyclic copy from {@link Copier}, iteratively. Used when
 * the engine's serializer would order keys differently (array-index keys) or recurse too deep.
 */
class Emitter {
  private out = '';

  constructor(private readonly maxSize: number) {}

  run(root: unknown): string {
    const stack: EmitFrame[] = [];
    this.value(root, stack);
    while (stack.length > 0) {
      const f = stack[stack.length - 1]!;
      if (f.i >= f.length) {
        stack.pop();
        this.append(f.keys === undefined ? ']' : '}');
        continue;
      }
      const index = f.i++;
      if (index > 0) this.append(',');
      if (f.keys === undefined) {
        this.value((f.src as unknown[])[index], stack);
      } else {
        const key = f.keys[index]!;
        this.append(`${JSON.stringify(key)}:`);
        this.value((f.src as Record<string, unknown>)[key], stack);
      }
    }
    return this.out;
  }

  private value(v: unknown, stack: EmitFrame[]): void {
    if (v === null || typeof v !== 'object') {
      this.append(JSON.stringify(v));
      return;
    }
    if (Array.isArray(v)) {
      stack.push({ src: v, keys: undefined, length: v.length, i: 0 });
      this.append('[');
      return;
    }
    const keys = Object.keys(v).sort();
    stack.push({ src: v, keys, length: keys.length, i: 0 });
    this.append('{');
  }

  private append(s: string): void {
    this.out += s;
    if (this.out.length > this.maxSize) {
      throw new WalkFailure('too_large', `canonical form exceeds ${this.maxSize} characters`);
    }
  }
}

interface EmitFrame {
  readonly src: unknown;
  readonly keys: string[] | undefined;
  readonly length: number;
  i: number;
}

function messageOf(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return 'unprintable error';
  }
}
