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
 */
export class StrictJsonWriter {
  /** Containers on the path below PATH_FROM levels (cycle detection); reset by every call. */
  private path: object[] = [];
  private depth = 0;
  private busy = false;

  constructor(readonly keys: KeyOrder = new KeyOrder()) {}

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
      const own = this.encode(value);
      // A lone surrogate is kept, escaped as `\udxxx` exactly as JSON.stringify writes it:
      // RFC 8785 section 3.2.2.2 would refuse it, but for an audit store refusing means losing
      // the record (half an emoji in an error message), and the escaped form is deterministic.
      return own === SAME ? JSON.stringify(value) : own;
    } finally {
      this.path.length = 0;
      this.depth = 0;
      this.busy = false;
    }
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
