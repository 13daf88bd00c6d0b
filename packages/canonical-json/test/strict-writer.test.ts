import { describe, expect, it } from 'vitest';
import { CanonicalJsonError, StrictJsonWriter } from '../src/index.js';

const writer = new StrictJsonWriter();
const codeOf = (v: unknown): string => {
  try {
    writer.stringify(v);
    return 'no error';
  } catch (err) {
    return err instanceof CanonicalJsonError ? err.code : `other: ${String(err)}`;
  }
};

describe('StrictJsonWriter: values without a canonical form are refused', () => {
  it.each([
    ['NaN', Number.NaN],
    ['Infinity in an object', { x: Number.POSITIVE_INFINITY }],
    ['-Infinity in an array', [Number.NEGATIVE_INFINITY]],
    ['a BigInt', { x: 1n }],
    ['a top-level undefined', undefined],
    ['a top-level function', () => 1],
    ['a top-level symbol', Symbol('s')],
  ])('%s: unsupported_type', (_name, value) => {
    expect(codeOf(value)).toBe('unsupported_type');
  });

  it('a cycle through an object or an array: cycle, not a stack overflow', () => {
    const o: Record<string, unknown> = { a: 1 };
    o.self = o;
    expect(codeOf(o)).toBe('cycle');
    const a: unknown[] = [1];
    a.push({ back: a });
    expect(codeOf(a)).toBe('cycle');
    // Refused before anything was written, and the writer is usable afterwards.
    expect(writer.stringify({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
  });

  it.each([
    ['a lone high surrogate', '\ud800'],
    ['a lone low surrogate in a nested value', { a: ['x\udc00y'] }],
    ['a lone surrogate in a member name', { 'k\ud83d': 1 }],
    ['a lone surrogate in an already sorted object', { a: 1, b: '\udfff' }],
    ['a backslash before a lone surrogate', { a: '\\\ud800' }],
  ])('%s: kept, escaped as JSON.stringify escapes it (never a lost record)', (_name, value) => {
    const json = writer.stringify(value);
    expect(json).toMatch(/\\ud[89a-f][0-9a-f]{2}/);
    expect(JSON.parse(json)).toEqual(value);
  });

  it('the message starts with the code', () => {
    expect(() => writer.stringify({ x: 1n })).toThrow(/^unsupported_type: BigInt/);
  });
});

describe('StrictJsonWriter: what it accepts', () => {
  it('shared (non-cyclic) references are written twice', () => {
    const shared = { z: 1, y: 2 };
    expect(writer.stringify({ b: shared, a: [shared, shared] })).toBe(
      '{"a":[{"y":2,"z":1},{"y":2,"z":1}],"b":{"y":2,"z":1}}',
    );
  });

  it('well-formed surrogate pairs pass; controls and U+2028 are escaped as JSON.stringify does', () => {
    expect(writer.stringify({ '😀': '😀\u0001\u2028"\\' })).toBe(
      `{"😀":${JSON.stringify('😀\u0001\u2028"\\')}}`,
    );
  });

  it('honours toJSON (also in unsorted objects), drops undefined members and nulls undefined items', () => {
    const d = new Date('2026-01-01T00:00:00Z');
    expect(writer.stringify({ b: undefined, a: [undefined, d, () => 1] })).toBe(
      '{"a":[null,"2026-01-01T00:00:00.000Z",null]}',
    );
    expect(writer.stringify({ z: d, y: { toJSON: () => ({ d: 1, c: 2 }) } })).toBe(
      '{"y":{"c":2,"d":1},"z":"2026-01-01T00:00:00.000Z"}',
    );
  });

  it('a toJSON that canonicalizes with the same writer does not disturb the outer write', () => {
    const inner = { toJSON: () => writer.stringify({ q: 1, p: [2] }) };
    const outer: Record<string, unknown> = { b: inner, a: inner };
    expect(writer.stringify(outer)).toBe(
      `{"a":${JSON.stringify('{"p":[2],"q":1}')},"b":${JSON.stringify('{"p":[2],"q":1}')}}`,
    );
  });

  it('writers own their caches: two writers give the same text, in any order of use', () => {
    const a = new StrictJsonWriter();
    const b = new StrictJsonWriter();
    const wide = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${19 - i}`, i]));
    const first = a.stringify(wide);
    expect(b.stringify(wide)).toBe(first);
    expect(a.stringify(wide)).toBe(first);
    expect(a.keys).not.toBe(b.keys);
  });
});
