import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { runContextKeyId, signRunContext, verifyRunContext } from '../src/run-context-token.js';
import {
  clearRunContextTokenCache,
  reuseMargin,
  signRunContextCached,
  verifyRunContextCached,
} from '../src/run-context-token-cache.js';

// A signed run context is reused per (key, audience, run, principal, trace, ttl) until shortly
// before its expiry, and a receiver skips only the signature check of a token it already
// checked with the same key: every change of what the token asserts signs a fresh one, and
// every use still checks expiry, audience and trace.

const a = generateKeyPairSync('ed25519');
const b = generateKeyPairSync('ed25519');
const kidA = runContextKeyId(a.publicKey);
const kidB = runContextKeyId(b.publicKey);
const TRACE = 'a'.repeat(32);
const OTHER_TRACE = 'b'.repeat(32);
const T0 = 1_800_000_000;
const claims = { run: 'run-1', principal: 'user:1', trace: TRACE, aud: 'acme' };

function claimsOf(token: string) {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}

function keys(...pairs: [string, KeyObject][]): Map<string, KeyObject> {
  return new Map(pairs);
}

afterEach(() => clearRunContextTokenCache());

describe('signRunContextCached', () => {
  it('reuses the token for the same claims until fewer than the margin seconds are left', () => {
    const first = signRunContextCached(claims, 300, a.privateKey, kidA, T0);
    expect(signRunContextCached(claims, 300, a.privateKey, kidA, T0 + 1)).toBe(first);
    const lastReuse = T0 + 300 - reuseMargin(300) - 1;
    expect(signRunContextCached(claims, 300, a.privateKey, kidA, lastReuse)).toBe(first);
    const renewed = signRunContextCached(claims, 300, a.privateKey, kidA, lastReuse + 1);
    expect(renewed).not.toBe(first);
    expect(claimsOf(renewed)).toMatchObject({ iat: lastReuse + 1, exp: lastReuse + 301 });
    // What is sent always verifies, with at least the margin left.
    const verdict = verifyRunContext(renewed, keys([kidA, a.publicKey]), {
      audience: 'acme',
      traceId: TRACE,
      now: lastReuse + 1 + 300 - reuseMargin(300) - 1,
    });
    expect(verdict.ok).toBe(true);
  });

  it('signs afresh when the run, principal, trace, audience, key or lifetime changes', () => {
    const first = signRunContextCached(claims, 300, a.privateKey, kidA, T0);
    const variants = [
      signRunContextCached({ ...claims, run: 'run-2' }, 300, a.privateKey, kidA, T0),
      signRunContextCached({ ...claims, principal: 'user:2' }, 300, a.privateKey, kidA, T0),
      signRunContextCached(
        { run: claims.run, trace: claims.trace, aud: claims.aud },
        300,
        a.privateKey,
        kidA,
        T0,
      ),
      signRunContextCached({ ...claims, trace: OTHER_TRACE }, 300, a.privateKey, kidA, T0),
      signRunContextCached({ ...claims, aud: 'other' }, 300, a.privateKey, kidA, T0),
      signRunContextCached(claims, 300, b.privateKey, kidB, T0),
      signRunContextCached(claims, 120, a.privateKey, kidA, T0),
    ];
    expect(new Set([first, ...variants]).size).toBe(variants.length + 1);
    expect(claimsOf(variants[0]!).run).toBe('run-2');
    expect(claimsOf(variants[1]!).principal).toBe('user:2');
    expect(claimsOf(variants[2]!).principal).toBeUndefined();
    expect(claimsOf(variants[3]!).trace).toBe(OTHER_TRACE);
    expect(claimsOf(variants[4]!).aud).toBe('other');
    expect(claimsOf(variants[5]!).kid).toBe(kidB);
    expect(claimsOf(variants[6]!).exp).toBe(T0 + 120);
  });

  it('signs afresh when the clock went back before the cached iat', () => {
    const first = signRunContextCached(claims, 300, a.privateKey, kidA, T0);
    const back = signRunContextCached(claims, 300, a.privateKey, kidA, T0 - 5);
    expect(back).not.toBe(first);
    expect(claimsOf(back).iat).toBe(T0 - 5);
  });

  it('a very short lifetime is never reused past half of it', () => {
    const first = signRunContextCached(claims, 10, a.privateKey, kidA, T0);
    expect(reuseMargin(10)).toBe(5);
    expect(signRunContextCached(claims, 10, a.privateKey, kidA, T0 + 4)).toBe(first);
    expect(signRunContextCached(claims, 10, a.privateKey, kidA, T0 + 5)).not.toBe(first);
  });
});

describe('verifyRunContextCached', () => {
  const expect0 = { audience: 'acme', traceId: TRACE, now: T0 };

  it('gives the verdicts of verifyRunContext on a second use of the same token', () => {
    const token = signRunContext({ ...claims, iat: T0, exp: T0 + 300 }, a.privateKey, kidA);
    const trusted = keys([kidA, a.publicKey]);
    expect(verifyRunContextCached(token, trusted, expect0)).toMatchObject({ ok: true });
    // Cached now: the other checks still run on every use.
    expect(verifyRunContextCached(token, trusted, expect0)).toMatchObject({ ok: true });
    const cases: [Parameters<typeof verifyRunContext>[2], string][] = [
      [{ ...expect0, now: T0 + 300 }, 'expired'],
      [{ ...expect0, now: T0 - 31 }, 'not_yet_valid'],
      [{ ...expect0, audience: 'other' }, 'wrong_audience'],
      [{ ...expect0, traceId: OTHER_TRACE }, 'trace_mismatch'],
      [{ ...expect0, traceId: undefined }, 'trace_mismatch'],
    ];
    for (const [e, reason] of cases) {
      expect(verifyRunContext(token, trusted, e)).toEqual({ ok: false, reason });
      expect(verifyRunContextCached(token, trusted, e)).toEqual({ ok: false, reason });
    }
  });

  it('a key no longer trusted, or another key under the same id, is not skipped', () => {
    const token = signRunContext({ ...claims, iat: T0, exp: T0 + 300 }, a.privateKey, kidA);
    expect(verifyRunContextCached(token, keys([kidA, a.publicKey]), expect0).ok).toBe(true);
    expect(verifyRunContextCached(token, keys([kidB, b.publicKey]), expect0)).toEqual({
      ok: false,
      reason: 'unknown_key',
    });
    // A forged key map naming b's key under a's id: the signature is checked again and fails.
    expect(verifyRunContextCached(token, keys([kidA, b.publicKey]), expect0)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('a forged or altered token is refused every time, never cached as good', () => {
    const token = signRunContext({ ...claims, iat: T0, exp: T0 + 300 }, a.privateKey, kidA);
    const trusted = keys([kidA, a.publicKey]);
    const [prefix, body, sig] = token.split('.');
    const altered = JSON.parse(Buffer.from(body!, 'base64url').toString('utf8'));
    altered.principal = 'user:admin';
    const forged = `${prefix}.${Buffer.from(JSON.stringify(altered)).toString('base64url')}.${sig}`;
    const bySomeoneElse = signRunContext(
      { ...claims, iat: T0, exp: T0 + 300, principal: 'user:admin' },
      b.privateKey,
      kidA,
    );
    for (let i = 0; i < 2; i++) {
      expect(verifyRunContextCached(token, trusted, expect0).ok).toBe(true);
      expect(verifyRunContextCached(forged, trusted, expect0)).toEqual({
        ok: false,
        reason: 'bad_signature',
      });
      expect(verifyRunContextCached(bySomeoneElse, trusted, expect0)).toEqual({
        ok: false,
        reason: 'bad_signature',
      });
      expect(verifyRunContextCached(undefined, trusted, expect0)).toEqual({
        ok: false,
        reason: 'unsigned',
      });
    }
  });
});
