import { describe, expect, it, vi } from 'vitest';
import { prng } from '../../../test/support/prng.js';
import { randomJson } from '../../../test/support/random-json.js';
import { type CanonicalFragment, StrictJsonWriter } from '../src/index.js';

// A fragment is a part of a value written once by a strict writer and spliced as its text later
// (strict-writer.ts). It must never change a byte: a value with some of its subtrees replaced by
// their fragments is written exactly as the value itself, by the writer and by JSON.stringify.

const writer = new StrictJsonWriter();

/** `value` with every subtree that `pick` chooses replaced by its fragment (made by `maker`). */
function withFragments(
  value: unknown,
  pick: () => boolean,
  maker: StrictJsonWriter = writer,
): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (pick()) return maker.fragment(value);
  if (Array.isArray(value)) return value.map((v) => withFragments(v, pick, maker));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = withFragments(v, pick, maker);
  return out;
}

describe('StrictJsonWriter fragments: spliced, never a changed byte', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: 2000 random values with random subtrees as fragments are written as the values`, () => {
      const rnd = prng(seed);
      const other = new StrictJsonWriter();
      for (let i = 0; i < 2000; i++) {
        const v = randomJson(rnd, 6, i % 2 === 0);
        const expected = writer.stringify(v);
        const spliced = withFragments(v, () => rnd() < 0.3, i % 3 === 0 ? other : writer);
        expect(writer.stringify(spliced)).toBe(expected);
        // Any other serializer sees the fragment's value through toJSON: the same JSON value.
        expect(writer.stringify(JSON.parse(JSON.stringify(spliced)))).toBe(expected);
      }
    });
  }

  it('splices the text made when the fragment was made, not the value as it is now', () => {
    const attribute = { key: 'tool.name', value: { stringValue: 'search' } };
    const fragment = writer.fragment(attribute);
    attribute.value.stringValue = 'changed';
    const record = { z: 1, attributes: [fragment, fragment], a: fragment };
    const text = '{"key":"tool.name","value":{"stringValue":"search"}}';
    expect(writer.stringify(record)).toBe(`{"a":${text},"attributes":[${text},${text}],"z":1}`);
    expect(writer.stringify(fragment)).toBe(text);
    expect(JSON.stringify(record)).toBe(`{"z":1,"attributes":[${text},${text}],"a":${text}}`);
  });

  it('is written as a JSON value by every path of the writer: sorted, unsorted, nested, top level', () => {
    const f = writer.fragment({ b: [1, 'x'], a: null });
    const text = '{"a":null,"b":[1,"x"]}';
    expect(writer.stringify(f)).toBe(text);
    expect(writer.stringify({ a: f, b: f })).toBe(`{"a":${text},"b":${text}}`);
    expect(writer.stringify({ b: f, a: [f, { c: f }] })).toBe(
      `{"a":[${text},{"c":${text}}],"b":${text}}`,
    );
    expect(writer.stringify([1, f, undefined])).toBe(`[1,${text},null]`);
  });

  it('is spliced as its text by the writer: toJSON (the fallback for other serializers) is not called', () => {
    const f = writer.fragment({ a: 1 });
    const toJSON = vi.spyOn(Object.getPrototypeOf(f) as { toJSON(): unknown }, 'toJSON');
    try {
      expect(new StrictJsonWriter().stringify({ x: [f], y: f })).toBe(
        '{"x":[{"a":1}],"y":{"a":1}}',
      );
      expect(toJSON).not.toHaveBeenCalled();
      expect(JSON.stringify({ y: f })).toBe('{"y":{"a":1}}');
      expect(toJSON).toHaveBeenCalledTimes(1);
    } finally {
      toJSON.mockRestore();
    }
  });

  it('cannot be made from text: only the writer makes fragments, from values it accepts', () => {
    const f = writer.fragment({ a: 1 });
    const Forged = f.constructor as new (token: symbol, text: string) => CanonicalFragment;
    expect(() => new Forged(Symbol('CanonicalFragment maker'), '{"b":1,"a":2}')).toThrow(
      /StrictJsonWriter.fragment/,
    );
    expect(() => writer.fragment({ n: Number.NaN })).toThrow(/canonical/);
    expect(() => writer.fragment(undefined)).toThrow(/no JSON form/);
  });
});
