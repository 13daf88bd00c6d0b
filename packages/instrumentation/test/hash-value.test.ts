import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pick, prng, shuffle } from '../../../test/support/prng.js';
import { randomString } from '../../../test/support/random-json.js';
import { canonicalJson, type HashResult, hashMatches, hashValue } from '../src/index.js';

const sha = (s: string) => `sha256:${createHash('sha256').update(s, 'utf8').digest('hex')}`;
const json = (v: unknown, opts?: Parameters<typeof canonicalJson>[1]) => {
  const r = canonicalJson(v, opts);
  return r.ok ? r.json : `ERR ${r.code}`;
};

class Point {
  constructor(
    public y: number,
    public x: number,
  ) {}
  get norm() {
    return Math.hypot(this.x, this.y);
  }
}

describe('canonical JSON (RFC 8785)', () => {
  it.each([
    [
      'sorted keys, no spaces',
      { b: 1, a: { d: [1, 2], c: null } },
      '{"a":{"c":null,"d":[1,2]},"b":1}',
    ],
    [
      'ES number formatting',
      [1e21, 1e-7, 0.1, 100, 1.5, -0, 2 ** 53],
      '[1e+21,1e-7,0.1,100,1.5,0,9007199254740992]',
    ],
    ['string escapes', '\u20ac"\\\n\t\u0001/', '"€\\"\\\\\\n\\t\\u0001/"'],
    [
      'keys sorted by UTF-16 code units',
      { '\u20ac': 1, '\r': 2, '\ud83d\ude00': 3, a: 4 },
      '{"\\r":2,"a":4,"€":1,"😀":3}',
    ],
    ['lone surrogates escaped', ['\ud800', 'a\udfffb'], '["\\ud800","a\\udfffb"]'],
    [
      'undefined, function, symbol omitted in objects',
      { a: undefined, f: () => 1, s: Symbol('x'), k: 1 },
      '{"k":1}',
    ],
    [
      'undefined, function, symbol are null in arrays',
      [undefined, () => 1, Symbol('x')],
      '[null,null,null]',
    ],
    ['sparse array holes are null', new Array(3).fill(1, 0, 1).fill(3, 2), '[1,null,3]'],
    [
      'NaN and infinities are null',
      [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY],
      '[null,null,null]',
    ],
    [
      'BigInt as decimal string',
      { n: 12345678901234567890n, m: -5n },
      '{"m":"-5","n":"12345678901234567890"}',
    ],
    [
      'Date via toJSON',
      { d: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)) },
      '{"d":"2026-01-02T03:04:05.006Z"}',
    ],
    ['invalid Date is null', [new Date(Number.NaN)], '[null]'],
    ['custom toJSON', { v: { toJSON: () => ({ z: 1, a: 2 }) } }, '{"v":{"a":2,"z":1}}'],
    [
      'Map as [key, value] pairs',
      new Map<unknown, unknown>([
        ['b', 1],
        [2, new Set(['x'])],
      ]),
      '[["b",1],[2,["x"]]]',
    ],
    ['Set as values', new Set([3, 1]), '[3,1]'],
    ['Buffer as base64', Buffer.from('hi!'), '{"$base64":"aGkh"}'],
    [
      'Uint8Array equals Buffer of the same bytes',
      new Uint8Array([104, 105, 33]),
      '{"$base64":"aGkh"}',
    ],
    [
      'typed array view of a slice',
      new Uint16Array(new Uint8Array([0, 0, 1, 0, 0, 0]).buffer, 2, 1),
      '{"$base64":"AQA="}',
    ],
    ['ArrayBuffer', new Uint8Array([255]).buffer, '{"$base64":"/w=="}'],
    ['DataView', new DataView(new Uint8Array([1, 2]).buffer), '{"$base64":"AQI="}'],
    ['boxed primitives', [Object(1), Object('s'), Object(true), Object(5n)], '[1,"s",true,"5"]'],
    ['class instance: own enumerable fields only', new Point(2, 1), '{"x":1,"y":2}'],
    ['symbol keys ignored', { [Symbol('k')]: 1, a: 2 }, '{"a":2}'],
    [
      '__proto__ as a plain key',
      JSON.parse('{"__proto__":{"x":1},"a":0}'),
      '{"__proto__":{"x":1},"a":0}',
    ],
    [
      'shared (non-cyclic) references are fine',
      (() => {
        const s = { v: 1 };
        return { a: s, b: [s, s] };
      })(),
      '{"a":{"v":1},"b":[{"v":1},{"v":1}]}',
    ],
    ['null-prototype object', Object.assign(Object.create(null), { b: 1, a: 2 }), '{"a":2,"b":1}'],
    ['Error objects have no enumerable fields', new Error('x'), '{}'],
    ['top-level primitives', 'yes', '"yes"'],
  ])('%s', (_name, value, expected) => {
    expect(json(value)).toBe(expected);
  });

  it.each([
    [
      'object cycle',
      () => {
        const o: Record<string, unknown> = { a: 1 };
        o.b = { c: o };
        return o;
      },
      'cycle',
      /\$\."b"\."c"/,
    ],
    [
      'array cycle',
      () => {
        const a: unknown[] = [1];
        a.push([a]);
        return a;
      },
      'cycle',
      /\$\[1\]\[0\]/,
    ],
    [
      'Map containing itself',
      () => {
        const m = new Map<string, unknown>();
        m.set('self', m);
        return m;
      },
      'cycle',
      /.*/,
    ],
    ['top-level undefined', () => undefined, 'unsupported_type', /undefined/],
    ['top-level function', () => () => 1, 'unsupported_type', /function/],
    ['top-level symbol', () => Symbol('s'), 'unsupported_type', /symbol/],
    [
      'throwing getter',
      () => ({
        get bad() {
          throw new Error('nope');
        },
      }),
      'read_failed',
      /\$\."bad".*nope/,
    ],
    [
      'throwing toJSON',
      () => ({
        a: {
          toJSON() {
            throw new Error('tj');
          },
        },
      }),
      'read_failed',
      /tj/,
    ],
    [
      'revoked proxy',
      () => {
        const p = Proxy.revocable({}, {});
        p.revoke();
        return { p: p.proxy };
      },
      'read_failed',
      /.*/,
    ],
    [
      'proxy with throwing ownKeys',
      () =>
        new Proxy(
          {},
          {
            ownKeys() {
              throw new Error('keys');
            },
          },
        ),
      'read_failed',
      /keys/,
    ],
  ])('%s → %s, never thrown', (_name, make, code, message) => {
    const r = hashValue(make());
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe(code);
      expect(r.error).toMatch(new RegExp(`^${code}: `));
      expect(r.error).toMatch(message);
    }
  });
});

describe('hashValue', () => {
  it('is sha256 over the canonical JSON', () => {
    expect(hashValue({ b: 1, a: 'x' })).toEqual({ ok: true, hash: sha('{"a":"x","b":1}') });
  });

  it('gives the same hash in any key order, at every level', () => {
    const a = { z: { y: [1, { q: 1, p: 2 }], x: 'x' }, a: null };
    const b = { a: null, z: { x: 'x', y: [1, { p: 2, q: 1 }] } };
    expect(hashValue(a)).toEqual(hashValue(b));
    expect(hashValue([1, 2])).not.toEqual(hashValue([2, 1]));
  });

  it('distinguishes values JSON would conflate where the form is documented as distinct', () => {
    expect(hashValue({ a: 1n })).not.toEqual(hashValue({ a: 1 }));
    expect(hashValue(new Set([1]))).not.toEqual(hashValue({}));
    expect(hashValue(new Map([['a', 1]]))).not.toEqual(hashValue(new Map([['a', 2]])));
  });

  it('keyed HMAC: hmac-sha256:<key-id>:<hex>, different keys give different hashes', () => {
    const k1 = { id: 'tenant-a.2026-01', secret: 'a'.repeat(32) };
    const k2 = { id: 'tenant-b.2026-01', secret: Buffer.alloc(32, 7) };
    const h1 = hashValue('yes', { key: k1 });
    const h2 = hashValue('yes', { key: k2 });
    const expected = createHmac('sha256', k1.secret).update('"yes"').digest('hex');
    expect(h1).toEqual({ ok: true, hash: `hmac-sha256:tenant-a.2026-01:${expected}` });
    expect(h2.ok && h2.hash.startsWith('hmac-sha256:tenant-b.2026-01:')).toBe(true);
    expect(h1.ok && h2.ok && h1.hash.slice(-64) !== h2.hash.slice(-64)).toBe(true);
    // The key never appears in the result.
    expect(JSON.stringify(h1)).not.toContain(k1.secret);
  });

  it('a dictionary attack on a low-entropy input fails without the key', () => {
    const key = { id: 'k1', secret: `s3cr3t-${'z'.repeat(20)}` };
    const recorded = hashValue('user:4821', { key }) as { ok: true; hash: string };
    const dictionary = Array.from({ length: 10_000 }, (_, i) => `user:${i}`);
    const hex = recorded.hash.split(':').pop();
    const unkeyedHit = dictionary.find((w) =>
      (hashValue(w) as { hash: string }).hash.endsWith(hex!),
    );
    const wrongKeyHit = dictionary.find((w) => {
      const h = hashValue(w, { key: { id: 'k1', secret: 'guess-'.repeat(4) } }) as { hash: string };
      return h.hash === recorded.hash;
    });
    expect(unkeyedHit).toBeUndefined();
    expect(wrongKeyHit).toBeUndefined();
    // Control: with the key, the same dictionary finds it, so the test can fail.
    const withKey = dictionary.find(
      (w) => (hashValue(w, { key }) as { hash: string }).hash === recorded.hash,
    );
    expect(withKey).toBe('user:4821');
    // And unkeyed sha256 of a low-entropy value is found: the reason keyed hashing exists.
    const plain = (hashValue('user:4821') as { hash: string }).hash;
    expect(dictionary.find((w) => (hashValue(w) as { hash: string }).hash === plain)).toBe(
      'user:4821',
    );
  });

  it.each([
    [{ id: 'has:colon', secret: 'x'.repeat(32) }],
    [{ id: '', secret: 'x'.repeat(32) }],
    [{ id: 'k', secret: 'short' }],
    [{ id: 'k', secret: 42 }],
    [null],
  ])('an invalid key is reported, not thrown: %j', (key) => {
    const r = hashValue('x', { key: key as never });
    expect(r).toMatchObject({ ok: false, code: 'invalid_key' });
  });
});

describe('hashMatches (verifying a recorded hash, across key rotation)', () => {
  const old = { id: 'acme-2025', secret: 'o'.repeat(32) };
  const current = { id: 'acme-2026', secret: 'n'.repeat(32) };
  const recordedOld = (hashValue({ b: 1, a: 'x' }, { key: old }) as { hash: string }).hash;
  const recordedNew = (hashValue({ b: 1, a: 'x' }, { key: current }) as { hash: string }).hash;

  it('finds the key by the id recorded in the hash', () => {
    expect(hashMatches({ a: 'x', b: 1 }, recordedOld, [current, old])).toBe(true);
    expect(hashMatches({ a: 'x', b: 1 }, recordedNew, (id) => ({ 'acme-2026': current })[id])).toBe(
      true,
    );
    expect(
      hashMatches({ a: 'x', b: 1 }, (hashValue({ a: 'x', b: 1 }) as { hash: string }).hash),
    ).toBe(true);
  });

  it('is false for another value, an unknown key id, a forged id or a malformed hash', () => {
    expect(hashMatches({ a: 'y', b: 1 }, recordedOld, [old])).toBe(false);
    expect(hashMatches({ a: 'x', b: 1 }, recordedOld, [current])).toBe(false);
    expect(
      hashMatches({ a: 'x', b: 1 }, recordedOld.replace('acme-2025', 'acme-2026'), [old, current]),
    ).toBe(false);
    expect(hashMatches({ a: 'x', b: 1 }, 'md5:abc')).toBe(false);
    const cyclic: Record<string, unknown> = {};
    cyclic.c = cyclic;
    expect(hashMatches(cyclic, recordedOld, [old])).toBe(false);
  });
});

describe('bounded work on hostile sizes (rows 29/30)', () => {
  it('100,000-deep nesting is refused without a stack overflow (arrays, objects, Maps)', () => {
    let arr: unknown = [];
    let obj: unknown = {};
    let map: unknown = 1;
    for (let i = 0; i < 100_000; i++) {
      arr = [arr];
      obj = { a: obj };
      map = new Map([['k', map]]);
    }
    for (const v of [arr, obj, map]) {
      const r = hashValue(v);
      expect(r).toMatchObject({ ok: false, code: 'too_deep' });
      expect((r as { error: string }).error.length).toBeLessThan(400);
    }
  });

  it('depth 1000 is accepted, 1001 is not; a raised maxDepth walks 100,000 levels without recursion', () => {
    const nest = (n: number) => {
      let v: unknown = 0;
      for (let i = 0; i < n; i++) v = [v];
      return v;
    };
    expect(hashValue(nest(1000)).ok).toBe(true);
    expect(hashValue(nest(1001))).toMatchObject({ ok: false, code: 'too_deep' });
    const deep = canonicalJson(nest(100_000), { maxDepth: 100_000 });
    expect(deep.ok && deep.json.length).toBe(200_001);
    expect(hashValue(nest(100_001), { maxDepth: 100_000 })).toMatchObject({
      ok: false,
      code: 'too_deep',
    });
    expect(hashValue(nest(11), { maxDepth: 10 })).toMatchObject({ ok: false, code: 'too_deep' });
  });

  it('a 100 MB string, a 100 MB Buffer and a 100 MB array are recorded as too large', () => {
    const big = 'x'.repeat(100 * 1024 * 1024);
    expect(hashValue(big)).toMatchObject({ ok: false, code: 'too_large' });
    expect(hashValue({ blob: Buffer.alloc(100 * 1024 * 1024) })).toMatchObject({
      ok: false,
      code: 'too_large',
    });
    // 1M rows of 100 characters: about 104 M characters of canonical JSON.
    expect(hashValue(new Array(1_000_000).fill('r'.repeat(100)))).toMatchObject({
      ok: false,
      code: 'too_large',
    });
    expect(hashValue(new Array(2 ** 31))).toMatchObject({ ok: false, code: 'too_large' });
  });

  it('maxSize is configurable and the boundary is honoured', () => {
    expect(hashValue('abc', { maxSize: 5 }).ok).toBe(true);
    expect(hashValue('abcd', { maxSize: 5 })).toMatchObject({ ok: false, code: 'too_large' });
  });

  it('a 10 MB input below the cap is hashed', () => {
    const rows = Array.from({ length: 50_000 }, (_, i) => ({
      id: i,
      name: `row-${i}`,
      pad: 'p'.repeat(150),
    }));
    const r = hashValue(rows);
    expect(r.ok).toBe(true);
  });
});

/** Random values mixing JSON and the non-JSON types listed in the README. */
function randomValue(rnd: () => number, depth: number): unknown {
  const leafs: Array<() => unknown> = [
    () => null,
    () => rnd() < 0.5,
    () => Math.floor(rnd() * 2 ** 40) - 2 ** 39,
    () => (rnd() - 0.5) * 10 ** Math.floor(rnd() * 40 - 20),
    () =>
      pick(rnd, [0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.MIN_VALUE, Number.MAX_VALUE]),
    () => randomString(rnd),
    () => BigInt(Math.floor(rnd() * 1e9)) * 10n ** 20n,
    () => undefined,
    () => new Date(Math.floor(rnd() * 4e12)),
    () => Buffer.from(randomString(rnd)),
  ];
  if (depth <= 0 || rnd() < 0.35) return pick(rnd, leafs)();
  const n = Math.floor(rnd() * 6);
  const kind = rnd();
  if (kind < 0.4) return Array.from({ length: n }, () => randomValue(rnd, depth - 1));
  if (kind < 0.5) return new Set(Array.from({ length: n }, () => randomValue(rnd, depth - 1)));
  if (kind < 0.6)
    return new Map(
      Array.from({ length: n }, () => [randomString(rnd), randomValue(rnd, depth - 1)]),
    );
  const o: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) o[randomString(rnd)] = randomValue(rnd, depth - 1);
  return o;
}

/** The same value with every object's keys inserted in another order. */
function reorder(rnd: () => number, v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => reorder(rnd, x));
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, reorder(rnd, x)]));
  if (v instanceof Set) return new Set([...v].map((x) => reorder(rnd, x)));
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const k of shuffle(rnd, Object.keys(v)))
      out[k] = reorder(rnd, (v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

// RFC 8785 conformance against the canonicalize package (random JSON values, array-index keys,
// __proto__ keys, deep values) is tested where the writer lives: packages/canonical-json/test.

describe('fuzz (seeded; the seed is in the test name)', () => {
  for (const seed of [1, 2, 3, 42, 2026, 31337]) {
    it(`seed ${seed}: never throws, deterministic, key-order independent, canonical is a fixed point`, () => {
      const rnd = prng(seed);
      for (let i = 0; i < 400; i++) {
        const v = randomValue(rnd, 5);
        let r: HashResult | undefined;
        expect(() => {
          r = hashValue(v);
        }).not.toThrow();
        expect(hashValue(v)).toEqual(r);
        expect(hashValue(reorder(rnd, v))).toEqual(r);
        const c = canonicalJson(v);
        if (c.ok) {
          // Parsing the canonical form and canonicalizing again changes nothing.
          expect(json(JSON.parse(c.json))).toBe(c.json);
        } else {
          expect(v).toBeUndefined();
        }
      }
    });
  }

  it('hostile objects (throwing getters/proxies/toJSON at random places) never throw', () => {
    const rnd = prng(99);
    const hostile = () =>
      pick(rnd, [
        {
          get x() {
            throw new Error('g');
          },
        },
        new Proxy(
          {},
          {
            get() {
              throw new Error('p');
            },
            ownKeys() {
              return ['a'];
            },
            getOwnPropertyDescriptor() {
              return { enumerable: true, configurable: true };
            },
          },
        ),
        {
          toJSON() {
            throw new Error('t');
          },
        },
      ]);
    const weird = () =>
      pick(rnd, [
        {
          toJSON() {
            return this;
          },
        },
        {
          toJSON() {
            return { again: { toJSON: () => 1 } };
          },
        },
        {
          toJSON() {
            return { self: this };
          },
        },
      ]);
    for (let i = 0; i < 300; i++) {
      const v = randomValue(rnd, 4) as unknown;
      const box = { v, h: hostile(), arr: [hostile()] };
      expect(() => hashValue(box)).not.toThrow();
      expect(hashValue(box).ok).toBe(false);
      expect(() => hashValue({ v, w: weird() })).not.toThrow();
    }
  });
});
