import canonicalizeModule from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { prng } from '../../../test/support/prng.js';
import { randomJson } from '../../../test/support/random-json.js';
import { StrictJsonWriter } from '../src/index.js';

// The strict writer's as-is check (strict-writer.ts, isCanonicalAsIs) lets JSON.stringify write
// a value without the careful walk. It must never change a byte: here every value is written by
// a writer with the check and by one without it (the careful walk alone), and both must give
// the same text, or fail with the same error code.

type Canonicalize = (input: unknown) => string | undefined;
const m = canonicalizeModule as unknown as Canonicalize | { default: Canonicalize };
const canonicalize: Canonicalize = typeof m === 'function' ? m : m.default;

const withCheck = new StrictJsonWriter();
const careful = new StrictJsonWriter(undefined, false);

function outcome(writer: StrictJsonWriter, value: unknown): string {
  try {
    return `text ${writer.stringify(value)}`;
  } catch (err) {
    return `error ${err instanceof Error ? err.message.split(':')[0] : String(err)}`;
  }
}

function expectSame(value: unknown, label = ''): string {
  const fast = outcome(withCheck, value);
  expect(fast, label).toBe(outcome(careful, value));
  return fast;
}

/** A copy of a JSON value with every object's keys inserted in UTF-16 order. */
function sortedCopy(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedCopy);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = sortedCopy((v as Record<string, unknown>)[k]);
  return out;
}

function nested(depth: number, leaf: unknown): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

describe('StrictJsonWriter as-is check: the same bytes as the careful walk', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: 2000 random values, as built and with sorted keys, match (and match canonicalize)`, () => {
      const rnd = prng(seed);
      for (let i = 0; i < 2000; i++) {
        const v = randomJson(rnd, 6, i % 2 === 0);
        expectSame(v);
        const sorted = sortedCopy(v);
        const text = expectSame(sorted);
        // Lone surrogates are kept (escaped) by the strict writer; canonicalize agrees on the rest.
        if (i % 2 === 1) expect(text).toBe(`text ${canonicalize(sorted)}`);
      }
    });
  }

  it('the SDK span payload shape (sorted, plain) is written as JSON.stringify writes it', () => {
    const payload = {
      resourceSpans: [
        {
          resource: {
            attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }],
            droppedAttributesCount: 0,
          },
          scopeSpans: [
            {
              scope: { name: 'x', version: '1' },
              spans: [{ attributes: [], flags: 257, kind: 1, name: 'n', status: { code: 0 } }],
            },
          ],
        },
      ],
    };
    expect(expectSame(payload)).toBe(`text ${JSON.stringify(payload)}`);
  });

  class Point {
    a = 1;
    b = 2;
  }
  class WithToJson {
    a = 1;
    toJSON() {
      return { z: 1, y: 2 };
    }
  }
  class List extends Array<unknown> {}
  const hiddenToJson = { a: 1, b: 2 };
  Object.defineProperty(hiddenToJson, 'toJSON', { value: () => ({ d: 1, c: 2 }) });
  const arrayToJson: unknown[] & { toJSON?: () => unknown } = [1, 2];
  arrayToJson.toJSON = () => ({ y: 1, x: 2 });
  const nullProtoSorted = Object.assign(Object.create(null), { a: 1, b: { c: 2 } });
  const nullProtoUnsorted = Object.assign(Object.create(null), { b: 1, a: 2 });
  const cycleShallow: Record<string, unknown> = { a: 1 };
  cycleShallow.b = cycleShallow;
  const cycleDeep = nested(40, null) as Record<string, unknown>;
  let tail = cycleDeep as unknown as Record<string, unknown> | unknown[];
  for (;;) {
    const next = Array.isArray(tail) ? tail[0] : tail.a;
    if (next === null) break;
    tail = next as Record<string, unknown> | unknown[];
  }
  if (Array.isArray(tail)) tail[0] = cycleDeep;
  else tail.a = cycleDeep;
  let reads = 0;
  const getter = {
    get a() {
      reads++;
      return { c: 1, d: 2 };
    },
    b: 2,
  };
  const sparse: unknown[] = [1];
  sparse[2] = 3; // a hole at 1
  const withProp = Object.assign([1, 2], { foo: 'bar' });
  const symbolKey = { a: 1, [Symbol('s')]: 2 };
  const frozen = Object.freeze({ a: Object.freeze([1, { b: 2 }]) });

  it.each<[string, unknown]>([
    ['a sorted plain object', { a: 1, b: [true, null, 'x'], c: { d: -0 } }],
    ['an unsorted plain object', { b: 1, a: 2 }],
    ['unsorted deep inside a sorted one', { a: [{ z: 1, y: 2 }] }],
    ['integer-like keys in engine order but not string order', { 2: 'a', 10: 'b', x: 1 }],
    ['integer-like keys already in string order', { 1: 'a', a: 'b' }],
    ['an own __proto__ member', JSON.parse('{"__proto__":{"b":1,"a":2},"a":1}')],
    ['a class instance with sorted fields', new Point()],
    ['a class instance with toJSON', { a: new WithToJson() }],
    ['an own non-enumerable toJSON', { x: hiddenToJson }],
    ['an own enumerable toJSON', { a: 1, toJSON: () => ({ q: 1 }) }],
    ['a toJSON member that is not a function', { a: 1, toJSON: 5 }],
    ['an array with its own toJSON', { a: arrayToJson }],
    ['an Array subclass', { a: List.from([1, 2]) }],
    ['null-prototype objects, sorted', nullProtoSorted],
    ['null-prototype objects, unsorted', { a: nullProtoUnsorted }],
    [
      'a Date, a Map, a Set, a Uint8Array',
      { a: new Date(0), b: new Map(), c: new Set([1]), d: new Uint8Array(12) },
    ],
    ['boxed primitives', { a: Object('x'), b: Object(1), c: Object(true) }],
    ['NaN deep in a sorted value', { a: [{ b: Number.NaN }] }],
    ['Infinity at the top of an array', [Number.POSITIVE_INFINITY]],
    ['a BigInt deep in a sorted value', { a: { b: 1n } }],
    [
      'functions, symbols and undefined as members and items',
      { a: () => 1, b: Symbol('x'), c: undefined, d: [undefined, () => 1, Symbol('y')] },
    ],
    ['a sparse array and an array with a named property', { a: sparse, b: withProp }],
    ['a symbol key', symbolKey],
    ['frozen values', frozen],
    ['a stable getter', getter],
    [
      'lone surrogates and astral characters in keys and values',
      { '\ud800': '\udc00', é: '😀', '😀': 1, '\uffff': 2 },
    ],
    ['31 levels deep', nested(31, { b: 1, a: 2 })],
    ['32 levels deep, sorted', nested(32, 'x')],
    ['33 levels deep, sorted', nested(33, 'x')],
    ['60 levels deep, unsorted at the bottom', nested(60, { b: 1, a: 2 })],
    ['a shallow cycle', cycleShallow],
    ['a cycle 40 levels down', cycleDeep],
    ['an empty object and an empty array', { a: {}, b: [] }],
  ])('%s', (label, value) => {
    expectSame(value, label);
    expect(reads === 0 || reads >= 2).toBe(true);
  });

  /** Runs `fn` with `proto[name]` defined, restoring it before anything else runs. */
  function polluted<T>(proto: object, name: string, value: unknown, fn: () => T): T {
    Object.defineProperty(proto, name, {
      value,
      enumerable: true,
      configurable: true,
      writable: true,
    });
    try {
      return fn();
    } finally {
      delete (proto as Record<string, unknown>)[name];
    }
  }
  const both = (v: unknown) => [outcome(withCheck, v), outcome(careful, v)];

  it('a toJSON on Object.prototype or Array.prototype is honoured as before', () => {
    const sorted = { a: { b: 1 }, c: [1, 2] };
    const [objFast, objCareful] = polluted(
      Object.prototype,
      'toJSON',
      // A null-prototype result: it has no inherited toJSON of its own to recurse into.
      function (this: object) {
        return Object.assign(Object.create(null), { z: 'patched', y: Object.keys(this).length });
      },
      () => both(sorted),
    );
    expect(objFast).toBe(objCareful);
    expect(objFast).toContain('patched');
    const [arrFast, arrCareful] = polluted(
      Array.prototype,
      'toJSON',
      () => ({ q: 'array', p: 1 }),
      () => both(sorted),
    );
    expect(arrFast).toBe(arrCareful);
    expect(arrFast).toContain('"p":1,"q":"array"');
  });

  it('enumerable members inherited from a polluted Object.prototype change nothing', () => {
    const value = { a: 1, b: { c: 2 } };
    const [zzFast, zzCareful] = polluted(Object.prototype, 'zz', 1, () => both(value));
    expect(zzFast).toBe(zzCareful);
    const [zeroFast, zeroCareful] = polluted(Object.prototype, '0', 1, () => both(value));
    expect(zeroFast).toBe(zeroCareful);
    expect(zzFast).toBe('text {"a":1,"b":{"c":2}}');
    expect(zeroFast).toBe(zzFast);
  });
});
