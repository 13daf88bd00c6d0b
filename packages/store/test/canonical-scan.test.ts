import { describe, expect, it } from 'vitest';
import { prng } from '../../../test/support/prng.js';
import { canonicalJson } from '../src/canonical-json.js';
import { encodeRecord } from '../src/record-format.js';
import { isCanonicalRecordLine } from '../src/verify/canonical-scan.js';

/** The plain definition: the line parses to a record whose canonical JSON is the same bytes. */
function reference(line: string): boolean {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line);
  } catch {
    return false;
  }
  if (Object.keys(record).join() !== 'hash,payload,prev,seq,tags,time,type') return false;
  const tags = record.tags as Record<string, unknown>;
  if (tags === null || typeof tags !== 'object' || Array.isArray(tags)) return false;
  if (Object.values(tags).some((v) => typeof v !== 'string')) return false;
  try {
    return Buffer.from(canonicalJson(record)).equals(Buffer.from(line));
  } catch {
    return false;
  }
}

const scan = (line: string) => {
  const buf = Buffer.from(line, 'utf8');
  return isCanonicalRecordLine(buf, 0, buf.length);
};

const PIECES = [
  'a',
  'Z',
  'é',
  '€',
  '😀',
  '\u0000',
  '\u001f',
  '"',
  '\\',
  '\n',
  '\ud800',
  '\udc00',
  '\u2028',
  '/',
  ' ',
];
const NUMBERS = [
  0,
  -1,
  1.5,
  1e21,
  1e-7,
  123456789012345,
  2 ** 53,
  -0.0001,
  5e-324,
  1.7976931348623157e308,
];

function randomValue(rand: () => number, depth: number): unknown {
  const r = rand();
  if (depth > 3 || r < 0.3) {
    const k = Math.floor(rand() * 4);
    if (k === 0) return NUMBERS[Math.floor(rand() * NUMBERS.length)];
    if (k === 1) return rand() < 0.5;
    if (k === 2) return null;
    return Array.from(
      { length: Math.floor(rand() * 4) },
      () => PIECES[Math.floor(rand() * PIECES.length)],
    ).join('');
  }
  if (r < 0.6)
    return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 5); i > 0; i--) {
    o[
      Array.from(
        { length: 1 + Math.floor(rand() * 3) },
        () => PIECES[Math.floor(rand() * PIECES.length)],
      ).join('')
    ] = randomValue(rand, depth + 1);
  }
  return o;
}

function line(payload: unknown, tags: Record<string, string> = { run: 'r' }): string {
  return encodeRecord(
    '0'.repeat(64),
    7,
    '2026-01-01T00:00:00.000Z',
    'event',
    canonicalJson(tags),
    canonicalJson(payload),
  ).line.slice(0, -1);
}

const MUTATIONS: Array<(l: string, rand: () => number) => string> = [
  (l, r) => {
    const i = 76 + Math.floor(r() * (l.length - 77));
    return `${l.slice(0, i)} ${l.slice(i)}`;
  },
  (l) =>
    l.replace(
      /"([a-z])/,
      (_m, c: string) => `"\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    ),
  (l) => l.replace(/:(-?\d+)([,}\]])/, ':$1.0$2'),
  (l) => l.replace(/:(-?\d+)([,}\]])/, ':$1e0$2'),
  (l) => l.replace(/\\u00([01][0-9a-f])/, (_m, h: string) => `\\u00${h.toUpperCase()}`),
  (l) => l.replace('\\n', '\\u000a'),
  (l) => l.replace('/', '\\/'),
  (l) => l.replace('😀', '\\ud83d\\ude00'),
  (l) => l.replace('é', '\\u00e9'),
  (l) => l.replace('"tags":{"run":"r"}', '"tags":{"run":1}'),
  (l) => l.replace('"tags":{"run":"r"}', '"tags":{"run":"r","a":"b"}'),
  (l) => l.replace(',"prev":', ',"pz":1,"prev":'),
  (l) => l.replace(/\{"([^"]+)":([^,{}[\]]+),"([^"]+)":/, '{"$3":$2,"$1":'),
  (l) => l.replace('true', 'tru'),
  (l) => l.replace(':0,', ':-0,'),
  (l) => l.replace(':0,', ':00,'),
];

describe('the canonical byte scan agrees with parse-and-re-serialise', () => {
  it('accepts every record the writer encodes, and decides every mutation as the reference does', () => {
    const rand = prng(42);
    let rejected = 0;
    for (let n = 0; n < 3000; n++) {
      const canonical = line(randomValue(rand, 0));
      expect(scan(canonical), canonical).toBe(true);
      expect(reference(canonical)).toBe(true);
      const mutated = MUTATIONS[n % MUTATIONS.length]!(canonical, rand);
      const expected = reference(mutated);
      expect(scan(mutated), mutated).toBe(expected);
      if (!expected) rejected += 1;
    }
    expect(rejected).toBeGreaterThan(500);
  });

  it('rejects bytes that are not UTF-8, which decode to U+FFFD on both sides of a string compare', () => {
    const good = Buffer.from(line({ s: 'é' }), 'utf8');
    const at = good.indexOf(Buffer.from('é'));
    const bad = Buffer.concat([
      good.subarray(0, at),
      Buffer.from([0xc3, 0x28]),
      good.subarray(at + 2),
    ]);
    expect(isCanonicalRecordLine(good, 0, good.length)).toBe(true);
    expect(isCanonicalRecordLine(bad, 0, bad.length)).toBe(false);
  });
});
