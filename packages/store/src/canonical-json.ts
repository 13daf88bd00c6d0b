/**
 * RFC 8785 (JCS) canonical JSON.
 *
 * Why not only the `canonicalize` package: it is the reference (tests compare against it),
 * but in the append hot path it cost ~10 µs per 1 KB span, a third of the writer's CPU. JCS
 * output equals `JSON.stringify` output whenever every object's keys already enumerate in
 * sorted order (JCS numbers and strings are ECMAScript's `JSON.stringify` forms), so this
 * walks the value once, hands every such subtree to the native `JSON.stringify`, and
 * serialises by hand only the objects whose keys need sorting. Sorting is by UTF-16 code
 * units, which is JavaScript's default string order.
 *
 * Unlike `JSON.stringify` it throws on non-finite numbers and BigInt (JCS has no form for
 * them); like it, `undefined`, functions and symbols are dropped from objects and become
 * `null` in arrays, and `toJSON()` is honoured. A top-level `undefined` throws.
 */
export function canonicalJson(value: unknown): string {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
    throw new TypeError(`cannot canonicalize ${typeof value}`);
  }
  const own = encode(value);
  return own === SAME ? JSON.stringify(value) : own;
}

/** Marker: "this subtree is already canonical under JSON.stringify". */
const SAME = '';

function encode(value: unknown): string {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return SAME;
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${value} has no canonical JSON form`);
      return SAME;
    case 'bigint':
      throw new TypeError('BigInt has no canonical JSON form');
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
        const inner = encode(replaced);
        return inner === SAME ? JSON.stringify(replaced) : inner;
      }
      return Array.isArray(value)
        ? encodeArray(value)
        : encodeObject(value as Record<string, unknown>);
    }
    default:
      return SAME; // undefined/function/symbol: the container decides (drop or null)
  }
}

function encodeArray(items: unknown[]): string {
  let parts: string[] | undefined;
  for (let i = 0; i < items.length; i++) {
    const own = encode(items[i]);
    if (own !== SAME && parts === undefined) {
      parts = [];
      for (let k = 0; k < i; k++) parts.push(leaf(items[k]));
    }
    if (parts) parts.push(own === SAME ? leaf(items[i]) : own);
  }
  return parts ? `[${parts.join(',')}]` : SAME;
}

function encodeObject(object: Record<string, unknown>): string {
  const keys = Object.keys(object);
  let sorted = true;
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1]! > keys[i]!) {
      sorted = false;
      break;
    }
  }
  // Allocated only once a member needs its own encoding (most objects need none).
  let owns: string[] | undefined;
  for (let i = 0; i < keys.length; i++) {
    const own = encode(object[keys[i]!]);
    if (own !== SAME) {
      owns ??= new Array<string>(keys.length).fill(SAME);
      owns[i] = own;
    }
  }
  if (sorted && owns === undefined) return SAME;
  const order = keys.map((_, i) => i);
  if (!sorted) order.sort((a, b) => (keys[a]! < keys[b]! ? -1 : 1));
  let out = '{';
  let first = true;
  for (const i of order) {
    const v = object[keys[i]!];
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    if (!first) out += ',';
    first = false;
    const own = owns?.[i] ?? SAME;
    out += `${JSON.stringify(keys[i])}:${own === SAME ? JSON.stringify(v) : own}`;
  }
  return `${out}}`;
}

/** An array element that is canonical under JSON.stringify. */
function leaf(v: unknown): string {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol'
    ? 'null'
    : JSON.stringify(v);
}
