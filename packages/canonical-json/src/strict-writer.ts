import { CanonicalFragment, makeFragment } from './canonical-fragment.js';
import { CanonicalJsonError } from './errors.js';
import { KeyOrder } from './key-order.js';

/** Nesting below which the containers on the path are remembered, for cycle detection. */
const PATH_FROM = 32;

/** Marker: "this subtree is already canonical under JSON.stringify". */
const SAME = '';

/**
 * The strict RFC 8785 writer: JSON values only, and a {@link CanonicalJsonError} for anything
 * without a canonical form: a non-finite number, a BigInt, a cycle, a top-level
 * undefined/function/symbol. A lone surrogate is kept, escaped as `\udxxx` (see stringify).
 * Like `JSON.stringify`, `undefined`, functions and symbols are dropped from objects and become
 * `null` in arrays, and `toJSON()` is honoured. An error thrown by a getter or `toJSON`, or the
 * engine's RangeError on a nesting too deep for the stack, passes through.
 *
 * Why this shape: JCS output equals `JSON.stringify` output whenever every object's keys
 * already enumerate in sorted order (JCS numbers and strings are ECMAScript's `JSON.stringify`
 * forms), so this walks the value once to check it, hands every such subtree to the native
 * `JSON.stringify`, and writes by hand only the objects whose keys need sorting. Callers that
 * build their records with sorted keys (the store's span records) thus pay one JS walk and one
 * native serialization; the general `canonicalize` package cost ~10 µs per 1 KB span there, a
 * third of the store writer's CPU.
 *
 * That one walk has two forms. First a lean check, {@link isCanonicalAsIs}, for the common case
 * of data already in canonical order (every span record the SDK builds): keys enumerated with
 * `for…in` (no key array allocated), no `toJSON` anywhere, every number finite, no BigInt, at
 * most {@link PATH_FROM} levels deep (so no cycle is possible). When it says yes,
 * `JSON.stringify` writes the record as it is. Anything else (a Date, an unsorted object, a deep
 * value, a non-finite number …) goes through the careful walk below, which sorts, honours
 * `toJSON` and reports errors: the check only ever answers yes for values on which the careful
 * walk writes `JSON.stringify`'s text too, so both give the same bytes
 * (test/strict-writer-as-is.test.ts compares them on random and hostile values). Measured (CPU)
 * on the SDK's two tool-span payloads (1.3 and 2.1 KB) together: 11.6 µs with the careful walk
 * alone, 10.5 µs with this check first, 8.5 µs for `JSON.stringify` itself.
 *
 * A {@link CanonicalFragment} made by {@link fragment} is spliced in as its text: a caller that
 * writes the same part in many records (the store's span records repeat every attribute of a
 * span in its start and end records, and a run's attribution in every span) serializes it once.
 */
export class StrictJsonWriter {
  /** Containers on the path below PATH_FROM levels (cycle detection); reset by every call. */
  private path: object[] = [];
  private depth = 0;
  private busy = false;

  /**
   * @param asIsCheck whether to try {@link isCanonicalAsIs} first (the default); false forces the
   *   careful walk for every value, which the tests use as the reference for the check.
   */
  constructor(
    readonly keys: KeyOrder = new KeyOrder(),
    private readonly asIsCheck = true,
  ) {}

  stringify(value: unknown): string {
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
      throw new CanonicalJsonError(
        'unsupported_type',
        `a top-level ${typeof value} has no JSON form`,
      );
    }
    // A toJSON that canonicalizes on its own would share the path: give it a writer of its own.
    if (this.busy) return new StrictJsonWriter(this.keys).stringify(value);
    this.busy = true;
    try {
      if (
        this.asIsCheck &&
        typeof value === 'object' &&
        value !== null &&
        isCanonicalAsIs(value, 1)
      ) {
        return JSON.stringify(value);
      }
      const own = this.encode(value);
      // A lone surrogate is kept, escaped as `\udxxx` exactly as JSON.stringify writes it:
      // RFC 8785 section 3.2.2.2 would refuse it, but for an audit store refusing means losing
      // the record (half an emoji in an error message), and the escaped form is deterministic.
      return own === SAME ? JSON.stringify(value) : own;
    } finally {
      // Only after a walk below PATH_FROM levels: setting an array's length is not free, and
      // the store calls this twice per tool call.
      if (this.path.length > 0) this.path.length = 0;
      this.depth = 0;
      this.busy = false;
    }
  }

  /**
   * `value`'s canonical text, kept for splicing into the values this or any strict writer of
   * this package writes later (see {@link CanonicalFragment}). Throws as {@link stringify}.
   */
  fragment(value: unknown): CanonicalFragment {
    return makeFragment(this.stringify(value));
  }

  private encode(value: unknown): string {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return SAME;
      case 'number':
        if (!Number.isFinite(value)) {
          throw new CanonicalJsonError('unsupported_type', `${value} has no canonical JSON form`);
        }
        return SAME;
      case 'bigint':
        throw new CanonicalJsonError('unsupported_type', 'BigInt has no canonical JSON form');
      case 'object': {
        if (value === null) return SAME;
        // Written by a strict writer already: never empty, so never taken for SAME.
        const fragment = CanonicalFragment.textOf(value);
        if (fragment !== undefined) return fragment;
        const toJSON = (value as { toJSON?: unknown }).toJSON;
        if (typeof toJSON === 'function') {
          const replaced: unknown = toJSON.call(value);
          if (
            replaced === undefined ||
            typeof replaced === 'function' ||
            typeof replaced === 'symbol'
          ) {
            return 'null';
          }
          const inner = this.encode(replaced);
          return inner === SAME ? JSON.stringify(replaced) : inner;
        }
        // Cycle detection, kept off shallow values: containers are remembered only below
        // PATH_FROM levels. A cycle repeats its containers forever, so it still reaches that
        // depth and is found there; an acyclic value of ordinary depth pays one compare.
        const depth = ++this.depth;
        if (depth > PATH_FROM) {
          const path = this.path;
          for (let i = 0; i < path.length; i++) {
            if (path[i] === value) {
              throw new CanonicalJsonError('cycle', `value refers to itself ${depth} levels down`);
            }
          }
          path.push(value);
        }
        const out = Array.isArray(value)
          ? this.encodeArray(value)
          : this.encodeObject(value as Record<string, unknown>);
        if (depth > PATH_FROM) this.path.pop();
        this.depth = depth - 1;
        return out;
      }
      default:
        return SAME; // undefined/function/symbol: the container decides (drop or null)
    }
  }

  private encodeArray(items: unknown[]): string {
    let parts: string[] | undefined;
    for (let i = 0; i < items.length; i++) {
      const own = this.encode(items[i]);
      if (own !== SAME && parts === undefined) {
        parts = [];
        for (let k = 0; k < i; k++) parts.push(leaf(items[k]));
      }
      if (parts) parts.push(own === SAME ? leaf(items[i]) : own);
    }
    return parts ? `[${parts.join(',')}]` : SAME;
  }

  private encodeObject(object: Record<string, unknown>): string {
    const keys = Object.keys(object);
    let sorted = true;
    for (let i = 1; i < keys.length; i++) {
      if (keys[i - 1]! > keys[i]!) {
        sorted = false;
        break;
      }
    }
    if (!sorted) return this.writeObject(object, this.keys.sorted(keys), undefined);
    // Allocated only once a member needs its own encoding (most objects need none).
    let owns: string[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const own = this.encode(object[keys[i]!]);
      if (own !== SAME) {
        owns ??= new Array<string>(keys.length).fill(SAME);
        owns[i] = own;
      }
    }
    return owns === undefined ? SAME : this.writeObject(object, keys, owns);
  }

  /** Writes the members in `keys` order; `owns[i]` is member i's own encoding when known. */
  private writeObject(
    object: Record<string, unknown>,
    keys: readonly string[],
    owns: string[] | undefined,
  ): string {
    let out = '{';
    let first = true;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const v = object[k];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      const own = owns === undefined ? this.encode(v) : owns[i]!;
      if (!first) out += ',';
      first = false;
      out += `${this.keys.quoteKey(k)}:${own === SAME ? JSON.stringify(v) : own}`;
    }
    return `${out}}`;
  }
}

/** An array element that is canonical under JSON.stringify. */
function leaf(v: unknown): string {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol'
    ? 'null'
    : JSON.stringify(v);
}

/**
 * True only when the careful walk would find `value` canonical as it is (return SAME), so that
 * `JSON.stringify(value)` is its RFC 8785 text: no object or array on the way has a `toJSON`
 * (own or inherited, enumerable or not: the same lookup the careful walk and `JSON.stringify`
 * make), every object's enumerable keys are in UTF-16 order, and every member and item is a
 * string, a boolean, a finite number, null, undefined (dropped, or `null` in an array, by both)
 * or again such a container, at most PATH_FROM levels deep. A function or symbol member, a
 * BigInt and anything deeper answer false: the careful walk decides (and reports). False is
 * always safe; true must never be wrong.
 *
 * Objects of any prototype are accepted, as by the careful walk: without a `toJSON`, both
 * `JSON.stringify` and the careful walk write an object's own enumerable string-keyed members
 * (a class instance its fields, a Map or Set `{}`). `for…in` is used instead of
 * `Object.keys` (no key array per object): it enumerates exactly `Object.keys` order (integer
 * keys first, which the order check then refuses when they are not in string order) followed by
 * inherited enumerable keys, which can only make the check refuse. A {@link CanonicalFragment} has
 * a `toJSON`: a value holding one takes the careful walk, which splices the fragment's text.
 */
function isCanonicalAsIs(value: object, depth: number): boolean {
  if (depth > PATH_FROM) return false;
  if ((value as { toJSON?: unknown }).toJSON !== undefined) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!isCanonicalMember(value[i], depth)) return false;
    }
    return true;
  }
  let previous: string | undefined;
  for (const key in value) {
    if (previous !== undefined && previous > key) return false;
    previous = key;
    if (!isCanonicalMember((value as Record<string, unknown>)[key], depth)) return false;
  }
  return true;
}

function isCanonicalMember(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return true;
    case 'number':
      return Number.isFinite(v);
    case 'object':
      return v === null || isCanonicalAsIs(v, depth + 1);
    default:
      // bigint (refused), function and symbol (dropped or null): the careful walk decides.
      return false;
  }
}
