import { describe, expect, it } from 'vitest';
import { prng } from '../../../test/support/prng.js';
import { canonicalJson } from '../src/canonical-json.js';
import { type TagPlanMemo, tagsToJson } from '../src/record-tags.js';

// tagsToJson remembers the key order of a tag list and the quoted form of the value last
// written at each position. Those memos must never change a byte: every record's tags are
// checked against a fresh memo and against the store's strict canonical writer.
describe('tagsToJson: memoised key orders and quoted values give the canonical bytes', () => {
  const values = [
    'run-1',
    'run-2',
    'agent',
    'user:ann@example.com',
    'a"quote',
    'back\\slash',
    'new\nline',
    '\u0000',
    '\u2028',
    'é',
    '😀',
    '\ud800',
    '',
    'x'.repeat(300),
  ];
  const keyLists = [
    ['agent', 'parent', 'principal', 'run', 'span', 'tool', 'trace'],
    ['agent', 'parent', 'principal', 'run', 'span', 'status', 'tool', 'trace'],
    ['trace', 'run', 'span'],
    ['b', 'a', '10', '9'],
    ['run'],
    ['k1', 'k2', 'k3', 'k4', 'k5'],
    ['q', 'r', 's', 't', 'u', 'v'],
  ];

  for (const seed of [5, 6, 7]) {
    it(`seed ${seed}: 3000 records with repeating, changing and escaped values`, () => {
      const rnd = prng(seed);
      const memo: TagPlanMemo = { plans: [] };
      let previous: Record<string, string> = {};
      for (let n = 0; n < 3000; n++) {
        const keys = keyLists[Math.floor(rnd() * keyLists.length)]!;
        const tags: Record<string, string | undefined> = {};
        for (const k of keys) {
          const r = rnd();
          // Mostly the value the previous record had under this key (as the SDK's tags are),
          // sometimes a copy with the same content, sometimes absent, sometimes another value.
          tags[k] =
            r < 0.5 && previous[k] !== undefined
              ? previous[k]
              : r < 0.6 && previous[k] !== undefined
                ? `${previous[k]} `.slice(0, -1)
                : r < 0.65
                  ? undefined
                  : values[Math.floor(rnd() * values.length)]!;
        }
        const text = tagsToJson(tags, memo);
        expect(text).toBe(tagsToJson(tags, { plans: [] }));
        const defined = Object.fromEntries(Object.entries(tags).filter(([, v]) => v !== undefined));
        expect(text).toBe(canonicalJson(defined));
        previous = defined as Record<string, string>;
      }
    });
  }

  it('a non-string value is refused even where a string was memoised before', () => {
    const memo: TagPlanMemo = { plans: [] };
    expect(tagsToJson({ run: 'r' }, memo)).toBe('{"run":"r"}');
    expect(() => tagsToJson({ run: 5 as unknown as string }, memo)).toThrow(/entry\.tags\.run/);
    expect(tagsToJson({ run: 'r' }, memo)).toBe('{"run":"r"}');
  });
});
