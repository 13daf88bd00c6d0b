import canonicalizeModule from 'canonicalize';

// `canonicalize` is CommonJS with an ESM-style `export default` in its types; under NodeNext
// the default import is `module.exports` (the function) at run time but typed as the module.
// Accept both shapes so that Node and the vitest transform agree.
type Canonicalize = (input: unknown) => string | undefined;
const moduleValue = canonicalizeModule as unknown as Canonicalize | { default: Canonicalize };
const canonicalize: Canonicalize =
  typeof moduleValue === 'function' ? moduleValue : moduleValue.default;

/**
 * RFC 8785 (JCS) canonical JSON. The `canonicalize` package silently drops `undefined`
 * members and returns `undefined` for a top-level `undefined`; an audit record must never
 * lose data silently, so a top-level `undefined` throws here.
 */
export function canonicalJson(value: unknown): string {
  if (value === undefined) {
    throw new TypeError('cannot canonicalize undefined');
  }
  const text = canonicalize(value);
  if (text === undefined) {
    throw new TypeError('value has no canonical JSON form');
  }
  return text;
}
