import canonicalizeModule from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { prng } from '../../../test/support/prng.js';
import { randomJson } from '../../../test/support/random-json.js';
import { LenientJsonWriter, StrictJsonWriter } from '../src/index.js';

// canonicalize is CommonJS whose typings declare an ES default export: at run time the default
// import is the function itself, to the type checker a namespace. Accept both.
type Canonicalize = (input: unknown) => string | undefined;
const m = canonicalizeModule as unknown as Canonicalize | { default: Canonicalize };
const canonicalize: Canonicalize = typeof m === 'function' ? m : m.default;

const LIMITS = { maxSize: 64 * 1024 * 1024, maxDepth: 1000 };
const lenient = new LenientJsonWriter();
const strict = new StrictJsonWriter();

describe('RFC 8785 conformance against the canonicalize package (the reference)', () => {
  for (const seed of [101, 202, 303]) {
    it(`seed ${seed}: lenient writer, identical text on 500 random JSON values (lone surrogates included)`, () => {
      const rnd = prng(seed);
      for (let i = 0; i < 500; i++) {
        const v = randomJson(rnd, 6);
        expect(lenient.stringify(v, LIMITS)).toBe(canonicalize(v));
      }
    });
  }

  for (const seed of [8785, 4242]) {
    it(`seed ${seed}: strict writer, identical text on 2500 random well-formed JSON values`, () => {
      const rnd = prng(seed);
      for (let i = 0; i < 2500; i++) {
        const v = randomJson(rnd, 6, false);
        expect(strict.stringify(v), JSON.stringify(v)).toBe(canonicalize(v));
      }
    });
  }

  it('both writers give the same text for the same JSON value, called again and again (caches)', () => {
    const rnd = prng(7);
    const values = Array.from({ length: 200 }, () => randomJson(rnd, 5, false));
    for (let round = 0; round < 3; round++) {
      for (const v of values) expect(strict.stringify(v)).toBe(lenient.stringify(v, LIMITS));
    }
  });

  it('sorts keys by UTF-16 code units, array-index keys as strings, at every level', () => {
    const v = { 9: 1, 10: 2, b: { d: 1, c: [{ z: 1, y: 2 }] }, a: 0, é: 1, '😀': 2, '\uffff': 3 };
    const expected = canonicalize(v);
    expect(strict.stringify(v)).toBe(expected);
    expect(lenient.stringify(v, LIMITS)).toBe(expected);
    expect(strict.stringify({ 10: 'a', 2: 'b', 1: 'c', x: 1 })).toBe(
      '{"1":"c","10":"a","2":"b","x":1}',
    );
  });

  it('wide objects (the key-order cache) sort the same as the reference, first key shared', () => {
    const rnd = prng(12);
    for (let i = 0; i < 50; i++) {
      const o: Record<string, number> = { first: 0 };
      const n = 8 + Math.floor(rnd() * 40);
      for (let k = 0; k < n; k++) o[`k${Math.floor(rnd() * 100)}`] = k;
      expect(strict.stringify(o)).toBe(canonicalize(o));
      expect(lenient.stringify(o, LIMITS)).toBe(canonicalize(o));
    }
  });

  it('numbers take their ECMAScript shortest form', () => {
    const v = [0, -0, 1e21, 1e-7, 5e-324, 2 ** 53, 0.1 + 0.2, 123456789.125, -3.5e-10];
    expect(strict.stringify(v)).toBe(canonicalize(v));
    expect(strict.stringify(v)).toBe(
      '[0,0,1e+21,1e-7,5e-324,9007199254740992,0.30000000000000004,123456789.125,-3.5e-10]',
    );
  });

  it('deeper than the native limit (maxDepth raised): the lenient writer gives the same text', () => {
    let v: unknown = { b: 1, a: [2, { d: 'x', c: null }] };
    for (let i = 0; i < 1500; i++) v = i % 2 ? [v, i] : { z: v, y: i };
    expect(lenient.stringify(v, { ...LIMITS, maxDepth: 5000 })).toBe(canonicalize(v));
  });

  it('__proto__ keys survive', () => {
    const v = JSON.parse('{"b":{"__proto__":[1]},"__proto__":{"x":1}}');
    expect(lenient.stringify(v, LIMITS)).toBe(canonicalize(v));
    expect(strict.stringify(v)).toBe(canonicalize(v));
  });
});
