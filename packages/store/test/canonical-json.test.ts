import { describe, expect, it } from 'vitest';
import { prng } from '../../../test/support/prng.js';
import { canonicalJson } from '../src/canonical-json.js';
import { EncodeScratch, encodeBatch, encodeRecord } from '../src/record-format.js';

/** Random JSON values with shuffled key orders, integer-like keys and awkward strings/numbers. */
function randomValue(rand: () => number, depth: number): unknown {
  const pick = Math.floor(rand() * (depth > 3 ? 5 : 8));
  const strings = [
    '',
    'a',
    'é',
    '日本',
    '😀',
    '\u2028',
    '"\\',
    '\u0000\u001f',
    'z'.repeat(50),
    '10',
    '9',
  ];
  const numbers = [0, -0, 1, -1, 1e21, 1e-7, 5e-324, 0.1 + 0.2, 2 ** 53, 123456789.125, -3.5e-10];
  switch (pick) {
    case 0:
      return strings[Math.floor(rand() * strings.length)];
    case 1:
      return numbers[Math.floor(rand() * numbers.length)];
    case 2:
      return rand() < 0.5;
    case 3:
      return null;
    case 4:
      return Math.floor(rand() * 1e6);
    case 5: {
      const n = Math.floor(rand() * 5);
      return Array.from({ length: n }, () => randomValue(rand, depth + 1));
    }
    default: {
      const keys = ['b', 'a', 'aa', 'B', '10', '9', '1', 'é', 'z', '_', '😀', 'ab', ''];
      const o: Record<string, unknown> = {};
      const n = Math.floor(rand() * 6);
      for (let i = 0; i < n; i++)
        o[keys[Math.floor(rand() * keys.length)]!] = randomValue(rand, depth + 1);
      return o;
    }
  }
}

// RFC 8785 conformance (against the canonicalize package) is tested where the writer lives:
// packages/canonical-json/test. Here: that the store's canonicalJson is that strict writer.
describe('canonicalJson (the strict RFC 8785 writer of @agent-audit/canonical-json)', () => {
  it('sorts keys by UTF-16 code units, including integer-like keys', () => {
    expect(canonicalJson({ 9: 1, 10: 2, b: { d: 1, c: [{ z: 1, y: 2 }] }, a: 0 })).toBe(
      '{"10":2,"9":1,"a":0,"b":{"c":[{"y":2,"z":1}],"d":1}}',
    );
  });

  it('honours toJSON, drops undefined members and nulls undefined items', () => {
    const d = new Date('2026-01-01T00:00:00Z');
    expect(canonicalJson({ b: undefined, a: [undefined, d] })).toBe(
      '{"a":[null,"2026-01-01T00:00:00.000Z"]}',
    );
  });

  it('throws for values RFC 8785 cannot encode', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow();
    expect(() => canonicalJson({ x: Number.POSITIVE_INFINITY })).toThrow();
    expect(() => canonicalJson({ x: 1n })).toThrow();
    expect(() => canonicalJson(undefined)).toThrow();
    // Kept, escaped: refusing it would lose an audit record.
    expect(canonicalJson({ text: 'half an emoji \ud83d' })).toBe(
      '{"text":"half an emoji \\ud83d"}',
    );
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => canonicalJson(cycle)).toThrow(/^cycle: /);
  });
});

describe('record encoding', () => {
  it('encodeBatch writes exactly the bytes of encodeRecord', () => {
    const rand = prng(1);
    const entries = Array.from({ length: 50 }, (_, i) => {
      const payloadJson = canonicalJson(randomValue(rand, 0) ?? null);
      const tagsJson = canonicalJson({ run: `r${i}`, principal: 'user:é' });
      return {
        time: new Date(1_764_000_000_000 + i).toISOString(),
        type: 'span.end' as const,
        tagsJson,
        payloadJson,
      };
    });
    const batch = encodeBatch(entries, '0'.repeat(64), 41);
    let prev = '0'.repeat(64);
    let expected = '';
    entries.forEach((e, i) => {
      const r = encodeRecord(prev, 42 + i, e.time, e.type, e.tagsJson, e.payloadJson);
      expected += r.line;
      expect(batch.records[i]).toEqual({ seq: 42 + i, hash: r.hash });
      prev = r.hash;
    });
    expect(batch.buf.toString('utf8')).toBe(expected);
  });

  it('encodes into a reused scratch buffer, growing it for long multi-byte records', () => {
    const scratch = new EncodeScratch();
    const initial = scratch.buf.length;
    // 4-byte (surrogate pair) and 3-byte characters: the worst cases of the size bound.
    const payloads = ['😀'.repeat(40_000), '日本'.repeat(30_000), 'a', '\u2028é'.repeat(10)];
    let prev = '0'.repeat(64);
    payloads.forEach((text, i) => {
      const payloadJson = canonicalJson({ text });
      const entry = {
        time: '2026-11-25T00:00:00.000Z',
        type: 'event' as const,
        tagsJson: '{}',
        payloadJson,
      };
      const { buf, records } = encodeBatch([entry], prev, i, scratch);
      const expected = encodeRecord(prev, i + 1, entry.time, entry.type, '{}', payloadJson);
      expect(buf.toString('utf8')).toBe(expected.line);
      expect(records).toEqual([{ seq: i + 1, hash: expected.hash }]);
      prev = expected.hash;
    });
    // Grown for the 3-byte record, but capped: the 160 KB emoji record fits, a 4 MB one gets a
    // buffer of its own.
    expect(scratch.buf.length).toBeGreaterThan(initial);
    const grown = scratch.buf.length;
    const big = {
      time: '2026-11-25T00:00:00.000Z',
      type: 'event' as const,
      tagsJson: '{}',
      payloadJson: canonicalJson({ text: 'z'.repeat(4_000_000) }),
    };
    const { buf } = encodeBatch([big], prev, payloads.length, scratch);
    expect(buf.toString('utf8')).toBe(
      encodeRecord(prev, payloads.length + 1, big.time, big.type, '{}', big.payloadJson).line,
    );
    expect(scratch.buf.length).toBe(grown);
  });
});
