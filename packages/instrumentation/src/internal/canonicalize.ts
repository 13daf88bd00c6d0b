import canonicalizeModule from 'canonicalize';

// `canonicalize` is CommonJS (`module.exports = fn`) but its typings declare a default export;
// under NodeNext that types the default import as the module object. Resolve both shapes once.
type Canonicalize = (input: unknown) => string | undefined;
const mod = canonicalizeModule as unknown as Canonicalize | { default: Canonicalize };
const canonicalize: Canonicalize = typeof mod === 'function' ? mod : mod.default;

export default canonicalize;
