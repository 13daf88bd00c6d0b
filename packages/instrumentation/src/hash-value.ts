import { createHmac, hash as oneShotHash, timingSafeEqual } from 'node:crypto';
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
  const fast = hashPlainValue(value, key, options);
  if (fast !== undefined) return fast;
  const canonical = canonicalJson(value, options);
  if (!canonical.ok) return canonical;
  return hashCanonicalJson(canonical.json, key);
}

/**
 * The hash of `value`'s canonical JSON when only the hash is wanted: the same bytes as
 * `hashCanonicalJson(canonicalJson(value).json, key)`, or undefined when `value` is not plain
 * data (then the caller takes that careful path, which also reports every failure).
 *
 * Why a second writer: canonicalJson builds its text by concatenation, a rope of ~3 pieces per
 * member, and hashing a rope first flattens it; for a 1 KB tool input (45 members) flattening
 * cost ~1.4 us, more than the SHA-256 itself, on top of the UTF-8 conversion. Plain data (plain
 * objects and arrays, strings, numbers, booleans, null, bigint, and the undefined/function/symbol
 * members JSON leaves out) is instead written as UTF-8 straight into a reused buffer and hashed
 * from there. Measured: canonical JSON + SHA-256 of the 1 KB input 7.2-7.6 us -> 6.2 us
 * (JSON.stringify + SHA-256: 5.1-5.3 us). Everything else (Date, Map, typed arrays, class
 * instances, toJSON, proxies, depth beyond PLAIN_MAX_DEPTH, a cycle, more than maxSize) makes
 * it give up before it has hashed anything. Equality with the careful path is what matters:
 * keys are sorted by the same function, strings go through the same JSON.stringify escaping
 * whenever they are not plain ASCII, numbers through the same Number-to-String.
 */
export function hashPlainValue(
  value: unknown,
  key: HashKey | undefined,
  options: Pick<HashValueOptions, 'maxSize' | 'maxDepth'> = {},
): HashResult | undefined {
  if (value === null || typeof value !== 'object' || plainWriter.busy) return undefined;
  if (key !== undefined && hashKeyProblem(key) !== undefined) return undefined;
  const w = plainWriter;
  w.busy = true;
  try {
    w.reset(
      options.maxSize ?? DEFAULT_HASH_MAX_SIZE,
      Math.min(options.maxDepth ?? DEFAULT_HASH_MAX_DEPTH, PLAIN_MAX_DEPTH),
    );
    // Past maxSize in UTF-8 bytes the text may still be within maxSize in UTF-16 units: the
    // careful path decides.
    if (!w.value(value, 0) || w.size() > w.limit()) return undefined;
    if (key === undefined) {
      const n = w.size();
      if (n <= SMALL_MEMO_BYTES) {
        if (n === smallMemoLength && w.startsWith(smallMemo, n)) {
          return { ok: true, hash: smallMemoHash };
        }
        const small = `sha256:${oneShotHash('sha256', w.bytes(), 'hex')}`;
        smallMemoLength = w.copyTo(smallMemo);
        smallMemoHash = small;
        return { ok: true, hash: small };
      }
      return { ok: true, hash: `sha256:${oneShotHash('sha256', w.bytes(), 'hex')}` };
    }
    const bytes = w.bytes();
    const hex = createHmac('sha256', key.secret).update(bytes).digest('hex');
    return { ok: true, hash: `hmac-sha256:${key.id}:${hex}` };
  } catch {
    // A getter or proxy trap threw, or the buffer could not grow: the careful path reports it.
    return undefined;
  } finally {
    w.release();
    w.busy = false;
  }
}

// Small results repeat call after call (`{"ok":true}`, `{"status":"sent"}`): the unkeyed hash of
// the last short canonical text is remembered, and a byte compare replaces the SHA-256 call
// (~0.25-0.45 us here, a fixed cost that dominates for a dozen bytes). The hash is a pure
// function of the bytes, so the memo cannot change any output. Longer texts are not compared:
// their hash costs little more than the compare would.
const SMALL_MEMO_BYTES = 64;
const smallMemo = new Uint8Array(SMALL_MEMO_BYTES);
let smallMemoLength = -1;
let smallMemoHash = '';

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
 * One iterative pass writes the canonical text straight from the value: no recursion on
 * untrusted depth (100,000 levels cannot overflow the stack), no intermediate copy, and the
 * size cap is checked against the text as it grows. Object keys are sorted by UTF-16 code
 * units (`Array.prototype.sort`'s default, RFC 8785 section 3.2.3). Strings that need no
 * escaping are quoted as they are; the others go through `JSON.stringify`, whose escaping is
 * exactly RFC 8785 section 3.2.2.2 (lone surrogates become `\udxxx`). Finite numbers use
 * ECMAScript Number-to-String, which is section 3.2.2.3. Measured on 1 KB inputs (median of 21
 * rounds) it takes 0.6x (39 keys) to 0.7x (one long string) the time of `canonicalize`,
 * and beats a key-sorted copy written by `JSON.stringify`; the tests
 * cross-check the output against the `canonicalize` package on seeded random values.
 */
export function canonicalJson(
  value: unknown,
  options: Pick<HashValueOptions, 'maxSize' | 'maxDepth'> = {},
): CanonicalJsonResult {
  const maxSize = options.maxSize ?? DEFAULT_HASH_MAX_SIZE;
  const maxDepth = options.maxDepth ?? DEFAULT_HASH_MAX_DEPTH;
  try {
    return { ok: true, json: new Emitter(maxSize, maxDepth).run(value) };
  } catch (err) {
    if (err instanceof WalkFailure) return { ok: false, code: err.code, error: err.message };
    if (err instanceof RangeError) {
      return { ok: false, code: 'too_large', error: `too_large: ${messageOf(err)}` };
    }
    // A hostile Symbol.iterator, an engine limit, …: still never thrown.
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

// Characters that JSON escaping changes: quote, backslash, C0 controls, and surrogates (valid
// pairs pass through JSON.stringify unchanged; only lone ones are escaped, so let it decide).
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must be escaped
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * Sorts by UTF-16 code units (what `<` on strings compares, and RFC 8785 section 3.2.3 asks
 * for). Tool arguments have a few dozen keys at most, where an insertion sort beats the
 * engine's general sort; larger objects use the engine's.
 */
function sortKeys(keys: string[]): void {
  const n = keys.length;
  if (n > 64) {
    keys.sort();
    return;
  }
  for (let i = 1; i < n; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
}

// Tool arguments have the same keys in the same order call after call (one schema, one code
// path), and sorting them is the largest single cost of a wide object: 42 keys took 1.4 us to
// insertion-sort, out of ~6 us for the whole 1 KB input. So the sorted order of a key list is
// remembered, keyed by its first key, and reused when `Object.keys` returns the identical list
// (element-wise `===`, which for the engine's property-name strings is mostly a pointer
// compare: ~0.1 us for 42 keys). The result is a pure function of the key list, so the cache
// cannot change any output. Bounded: lists of SORT_CACHE_MIN_KEYS..SORT_CACHE_MAX_KEYS keys,
// one entry per first key (a different list with the same first key replaces it), and at most
// SORT_CACHE_MAX entries, after which it simply stops growing. Small objects sort faster than
// the comparison costs, so they skip the cache.
interface SortedKeys {
  readonly from: readonly string[];
  readonly to: string[];
  /** `"key":` as bytes per entry of `to` (undefined for a key that needs escaping), see keyBytes. */
  encoded?: (Uint8Array | undefined)[];
}
/** The cache entry whose `to` the last sortedKeys call returned; undefined if uncached. */
let lastSorted: SortedKeys | undefined;
const SORTED_KEYS = new Map<string, SortedKeys>();
const SORT_CACHE_MAX = 1024;
const SORT_CACHE_MIN_KEYS = 8;
const SORT_CACHE_MAX_KEYS = 256;

/** `keys` in RFC 8785 order; the result may be a shared array that callers must not modify. */
function sortedKeys(keys: string[]): string[] {
  const n = keys.length;
  lastSorted = undefined;
  if (n < SORT_CACHE_MIN_KEYS || n > SORT_CACHE_MAX_KEYS) {
    sortKeys(keys);
    return keys;
  }
  const first = keys[0]!;
  const hit = SORTED_KEYS.get(first);
  if (hit !== undefined && hit.from.length === n) {
    const from = hit.from;
    let same = true;
    for (let i = 1; i < n; i++) {
      if (from[i] !== keys[i]) {
        same = false;
        break;
      }
    }
    if (same) {
      lastSorted = hit;
      return hit.to;
    }
  }
  const to = keys.slice();
  sortKeys(to);
  if (hit !== undefined || SORTED_KEYS.size < SORT_CACHE_MAX) {
    const entry: SortedKeys = { from: keys, to };
    SORTED_KEYS.set(first, entry);
    lastSorted = entry;
  }
  return to;
}

/**
 * The UTF-8 bytes of `"key":` for each key of a cached sorted list, built once per list: the
 * plain writer then copies bytes instead of checking every character of every key on every
 * call. A key that is not printable ASCII without quote or backslash gets undefined (it is
 * written the careful way, with JSON.stringify escaping).
 */
function keyBytes(entry: SortedKeys): (Uint8Array | undefined)[] {
  let encoded = entry.encoded;
  if (encoded === undefined) {
    encoded = entry.to.map((k) => {
      const b = new Uint8Array(k.length + 3);
      b[0] = 0x22;
      for (let i = 0; i < k.length; i++) {
        const c = k.charCodeAt(i);
        if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return undefined;
        b[i + 1] = c;
      }
      b[k.length + 1] = 0x22;
      b[k.length + 2] = 0x3a;
      return b;
    });
    entry.encoded = encoded;
  }
  return encoded;
}

function quote(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

// Tool arguments reuse the same property names call after call; their quoted forms are
// remembered (a pure function of the name, so the cache cannot change any output). Bounded:
// short names only, and once full it simply stops growing. Measured: 39 keys quoted in 0.8 us
// instead of 1.9 us.
const QUOTED_KEYS = new Map<string, string>();
const QUOTED_KEYS_MAX = 2048;
const QUOTED_KEY_MAX_LENGTH = 64;

function quoteKey(k: string): string {
  const hit = QUOTED_KEYS.get(k);
  if (hit !== undefined) return hit;
  const q = quote(k);
  if (k.length <= QUOTED_KEY_MAX_LENGTH && QUOTED_KEYS.size < QUOTED_KEYS_MAX)
    QUOTED_KEYS.set(k, q);
  return q;
}

/** Path length up to which cycle detection scans the frame stack instead of keeping a Set. */
const PATH_SCAN_MAX = 16;

/** A container being written. */
interface Frame {
  readonly src: unknown;
  /** Own keys in RFC 8785 order for objects; undefined for arrays. */
  readonly keys: string[] | undefined;
  readonly length: number;
  readonly guard: object;
  readonly depth: number;
  i: number;
  /** Whether a member has been written (commas). */
  wrote: boolean;
}

class Emitter {
  private out = '';
  private readonly stack: Frame[] = [];
  // The containers on the current path, for cycle detection. Tool inputs and results are a few
  // levels deep, where scanning the frame stack is cheaper than a Set (allocated, then one add,
  // has and delete per container: ~0.3 us of a small result's canonicalization); the Set is only
  // built once the path gets deep, and from then on kept in step with the stack.
  private onPath: Set<object> | undefined;

  constructor(
    private readonly maxSize: number,
    private readonly maxDepth: number,
  ) {}

  run(root: unknown): string {
    if (!this.value(root, '', false, 0, true)) {
      throw new WalkFailure('unsupported_type', `a top-level ${typeof root} has no JSON form`);
    }
    const stack = this.stack;
    while (stack.length > 0) {
      const f = stack[stack.length - 1]!;
      if (f.i >= f.length) {
        stack.pop();
        this.onPath?.delete(f.guard);
        this.out += f.keys === undefined ? ']' : '}';
        continue;
      }
      const index = f.i++;
      if (f.keys === undefined) {
        this.value(this.read(f.src, index), f.wrote ? ',' : '', true, f.depth, true);
        f.wrote = true;
      } else {
        const key = f.keys[index]!;
        const prefix = f.wrote ? `,${quoteKey(key)}:` : `${quoteKey(key)}:`;
        if (this.value(this.read(f.src, key), prefix, false, f.depth, true)) f.wrote = true;
      }
      if (this.out.length > this.maxSize) this.tooLarge();
    }
    if (this.out.length > this.maxSize) this.tooLarge();
    return this.out;
  }

  /**
   * Writes `prefix` and the JSON form of `v` (for a container: its opening bracket, and pushes
   * its frame). Returns false, writing nothing, when `v` is left out of an object.
   */
  private value(
    v: unknown,
    prefix: string,
    inArray: boolean,
    depth: number,
    allowToJson: boolean,
  ): boolean {
    switch (typeof v) {
      case 'string':
        this.reserve(v.length + prefix.length + 2);
        this.out += prefix + quote(v);
        return true;
      case 'number':
        // Number-to-String is RFC 8785's number form; it gives "0" for -0.
        this.out += prefix + (Number.isFinite(v) ? String(v) : 'null');
        return true;
      case 'boolean':
        this.out += prefix + (v ? 'true' : 'false');
        return true;
      case 'bigint':
        this.out += `${prefix}"${v.toString()}"`;
        return true;
      case 'undefined':
      case 'function':
      case 'symbol':
        if (!inArray) return false;
        this.out += `${prefix}null`;
        return true;
      default:
        if (v === null) {
          this.out += `${prefix}null`;
          return true;
        }
        return this.object(v as object, prefix, inArray, depth, allowToJson);
    }
  }

  private object(
    o: object,
    prefix: string,
    inArray: boolean,
    depth: number,
    allowToJson: boolean,
  ): boolean {
    if (this.isOnPath(o)) {
      throw new WalkFailure('cycle', `value refers to itself at ${this.path()}`);
    }
    const childDepth = depth + 1;
    if (childDepth > this.maxDepth) {
      throw new WalkFailure('too_deep', `nesting deeper than ${this.maxDepth} at ${this.path()}`);
    }
    try {
      // Plain objects and arrays, the common case, skip the exotic-type checks.
      const proto = Object.getPrototypeOf(o);
      const plain = proto === Object.prototype || proto === Array.prototype || proto === null;
      if (!plain && types.isProxy(o) === false) {
        if (ArrayBuffer.isView(o) || types.isAnyArrayBuffer(o)) {
          this.out += prefix + this.binary(o);
          return true;
        }
        if (types.isBoxedPrimitive(o))
          return this.value(o.valueOf(), prefix, inArray, depth, false);
        if (types.isMap(o)) {
          this.reserve((o as Map<unknown, unknown>).size * 6);
          this.push(Array.from(o as Map<unknown, unknown>), undefined, o, childDepth, prefix);
          return true;
        }
        if (types.isSet(o)) {
          this.reserve((o as Set<unknown>).size * 2);
          this.push(Array.from(o as Set<unknown>), undefined, o, childDepth, prefix);
          return true;
        }
      }
      if (allowToJson) {
        const toJson = (o as { toJSON?: unknown }).toJSON;
        if (typeof toJson === 'function') {
          return this.value(toJson.call(o, ''), prefix, inArray, depth, false);
        }
      }
      if (Array.isArray(o)) {
        // Every element takes at least one character and a comma.
        this.reserve(o.length * 2);
        this.push(o, undefined, o, childDepth, prefix);
        return true;
      }
      const keys = Object.keys(o);
      this.reserve(keys.length * 4);
      this.push(o, sortedKeys(keys), o, childDepth, prefix);
      return true;
    } catch (err) {
      if (err instanceof WalkFailure) throw err;
      throw new WalkFailure('read_failed', `reading ${this.path()} threw: ${messageOf(err)}`);
    }
  }

  private push(
    src: unknown,
    keys: string[] | undefined,
    guard: object,
    depth: number,
    prefix: string,
  ): void {
    const length = keys === undefined ? (src as unknown[]).length : keys.length;
    if (this.onPath !== undefined) {
      this.onPath.add(guard);
    } else if (this.stack.length >= PATH_SCAN_MAX) {
      this.onPath = new Set();
      for (const f of this.stack) this.onPath.add(f.guard);
      this.onPath.add(guard);
    }
    this.stack.push({ src, keys, length, guard, depth, i: 0, wrote: false });
    this.out += prefix + (keys === undefined ? '[' : '{');
  }

  private isOnPath(o: object): boolean {
    if (this.onPath !== undefined) return this.onPath.has(o);
    const stack = this.stack;
    for (let i = 0; i < stack.length; i++) if (stack[i]!.guard === o) return true;
    return false;
  }

  private binary(o: ArrayBufferView | ArrayBufferLike): string {
    const bytes = ArrayBuffer.isView(o)
      ? Buffer.from(o.buffer, o.byteOffset, o.byteLength)
      : Buffer.from(o as ArrayBuffer);
    // Check the size before encoding so a 100 MB buffer is never copied.
    this.reserve(Math.ceil(bytes.length / 3) * 4 + 14);
    return `{"$base64":"${bytes.toString('base64')}"}`;
  }

  private read(src: unknown, key: string | number): unknown {
    try {
      return (src as Record<string | number, unknown>)[key];
    } catch (err) {
      throw new WalkFailure('read_failed', `reading ${this.path()} threw: ${messageOf(err)}`);
    }
  }

  /** Refuses before building text that could not fit anyway. */
  private reserve(n: number): void {
    if (this.out.length + n > this.maxSize) this.tooLarge();
  }

  private tooLarge(): never {
    throw new WalkFailure('too_large', `canonical form exceeds ${this.maxSize} characters`);
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

/** Nesting the plain writer follows (recursively) before leaving a value to the careful path. */
const PLAIN_MAX_DEPTH = 64;
const PLAIN_BUFFER_BYTES = 16 * 1024;
/** Larger values take the careful path (which builds a string anyway): the buffer stays small. */
const PLAIN_MAX_BYTES = 1024 * 1024;

/**
 * Writes the canonical JSON of plain data as UTF-8 into one reused buffer. `value()` returns
 * false, and the caller falls back, on anything that is not plain data.
 */
class PlainWriter {
  busy = false;
  private buf = Buffer.allocUnsafe(PLAIN_BUFFER_BYTES);
  private pos = 0;
  private maxSize = DEFAULT_HASH_MAX_SIZE;
  private maxDepth = PLAIN_MAX_DEPTH;

  reset(maxSize: number, maxDepth: number): void {
    this.pos = 0;
    this.maxSize = maxSize;
    this.maxDepth = maxDepth;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  size(): number {
    return this.pos;
  }

  /** Whether the first `n` bytes written equal `other`'s first `n` (n <= both lengths). */
  startsWith(other: Uint8Array, n: number): boolean {
    if (n !== this.pos) return false;
    const buf = this.buf;
    for (let i = 0; i < n; i++) if (buf[i] !== other[i]) return false;
    return true;
  }

  /** Copies what was written into `into` (large enough); returns the byte count. */
  copyTo(into: Uint8Array): number {
    const buf = this.buf;
    const n = this.pos;
    for (let i = 0; i < n; i++) into[i] = buf[i]!;
    return n;
  }

  limit(): number {
    return this.maxSize;
  }

  /** Drops a buffer that grew for one large value, so it is not kept for the process's life. */
  release(): void {
    if (this.buf.length > PLAIN_BUFFER_BYTES) this.buf = Buffer.allocUnsafe(PLAIN_BUFFER_BYTES);
  }

  /** Writes `v` (not undefined/function/symbol); false when it is not plain data. */
  value(v: unknown, depth: number): boolean {
    switch (typeof v) {
      case 'string':
        return this.string(v);
      case 'number':
        return this.ascii(Number.isFinite(v) ? String(v) : 'null');
      case 'boolean':
        return this.ascii(v ? 'true' : 'false');
      case 'bigint':
        return this.ascii(`"${v.toString()}"`);
      case 'object':
        if (v === null) return this.ascii('null');
        return this.container(v, depth + 1);
      default:
        return false;
    }
  }

  private container(o: object, depth: number): boolean {
    // A proxy is never read here (its traps could answer differently the second time).
    if (depth > this.maxDepth || types.isProxy(o)) return false;
    const proto = Object.getPrototypeOf(o);
    if (proto === Array.prototype) {
      if (typeof (o as { toJSON?: unknown }).toJSON === 'function') return false;
      const a = o as unknown[];
      const n = a.length;
      if (!this.byte(0x5b)) return false;
      for (let i = 0; i < n; i++) {
        if (i > 0 && !this.byte(0x2c)) return false;
        const item = a[i];
        const t = typeof item;
        if (t === 'undefined' || t === 'function' || t === 'symbol') {
          if (!this.ascii('null')) return false;
        } else if (!this.value(item, depth)) {
          return false;
        }
      }
      return this.byte(0x5d);
    }
    if (proto !== Object.prototype && proto !== null) return false;
    if (typeof (o as { toJSON?: unknown }).toJSON === 'function') return false;
    const keys = sortedKeys(Object.keys(o));
    const cached = lastSorted;
    const encoded = cached !== undefined && cached.to === keys ? keyBytes(cached) : undefined;
    if (!this.byte(0x7b)) return false;
    let wrote = false;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const item = (o as Record<string, unknown>)[k];
      const t = typeof item;
      if (t === 'undefined' || t === 'function' || t === 'symbol') continue;
      if (wrote && !this.byte(0x2c)) return false;
      const kb = encoded?.[i];
      if (kb !== undefined) {
        if (!this.raw(kb)) return false;
      } else if (!this.string(k) || !this.byte(0x3a)) {
        return false;
      }
      if (!this.value(item, depth)) return false;
      wrote = true;
    }
    return this.byte(0x7d);
  }

  private string(s: string): boolean {
    // Printable ASCII other than quote and backslash is copied byte for byte (the check is part
    // of the copy: no separate regex pass); at the first other character the copy is abandoned.
    const n = s.length;
    if (!this.room(n + 2)) return false;
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = 0x22;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) break;
      buf[pos++] = c;
    }
    if (i === n) {
      buf[pos++] = 0x22;
      this.pos = pos;
      return true;
    }
    // Exactly quote()'s output (JSON.stringify escaping is RFC 8785's), then UTF-8: the string
    // is well-formed after escaping, so this is the encoding hashCanonicalJson applies.
    const q = JSON.stringify(s);
    if (!this.room(q.length * 3)) return false;
    this.pos += this.buf.write(q, this.pos, 'utf8');
    return true;
  }

  /** `s` is ASCII (numbers, literals, a bigint's digits). */
  private ascii(s: string): boolean {
    if (!this.room(s.length)) return false;
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
    this.pos = pos;
    return true;
  }

  private raw(bytes: Uint8Array): boolean {
    const n = bytes.length;
    if (!this.room(n)) return false;
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) buf[pos++] = bytes[i]!;
    this.pos = pos;
    return true;
  }

  private byte(b: number): boolean {
    if (!this.room(1)) return false;
    this.buf[this.pos++] = b;
    return true;
  }

  /** Makes room for `n` more bytes; false past PLAIN_MAX_BYTES (the careful path takes over). */
  private room(n: number): boolean {
    const need = this.pos + n;
    if (need <= this.buf.length) return true;
    if (need > PLAIN_MAX_BYTES) return false;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, need));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    return true;
  }
}

const plainWriter = new PlainWriter();

function messageOf(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return 'unprintable error';
  }
}

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
