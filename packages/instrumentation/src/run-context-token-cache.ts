/*
 * Reuse of signed run contexts, so that a process making many calls in one run (an MCP client,
 * an HTTP tool) does not pay an Ed25519 signature per call, and a receiver does not pay an
 * Ed25519 verification per call for the same token.
 *
 * Signing: a token is reused only for the exact same claims (key id, audience, run, principal,
 * trace) and lifetime, signed with the same key object, and only while more than
 * `reuseMargin(ttl)` seconds of its lifetime are left (then a fresh one is signed); a clock
 * that went backwards before its `iat` re-signs too. Verifying: only a token whose signature
 * this process checked with the very key object it is asked to trust now skips the signature
 * check; expiry, `iat`, audience and trace are checked again on every use by the caller.
 */
import type { KeyObject } from 'node:crypto';
import {
  type RunContextClaims,
  type RunContextVerdict,
  signRunContext,
  verifyRunContext,
} from './run-context-token.js';

/** Entries kept per cache (oldest dropped first): one per trace in flight is plenty. */
const MAX_ENTRIES = 256;

/** Seconds of lifetime a reused token must still have: min(60, ttl / 2). */
export function reuseMargin(ttlSeconds: number): number {
  return Math.min(60, Math.floor(ttlSeconds / 2));
}

interface SignedEntry {
  readonly token: string;
  readonly key: KeyObject;
  readonly ttl: number;
  readonly iat: number;
  readonly exp: number;
}

const signed = new Map<string, SignedEntry>();

/**
 * A token for `claims`, signed now, or the one signed earlier for the same claims, key and
 * lifetime while it has more than `reuseMargin(ttlSeconds)` seconds left.
 */
export function signRunContextCached(
  claims: Omit<RunContextClaims, 'v' | 'kid' | 'iat' | 'exp'>,
  ttlSeconds: number,
  privateKey: KeyObject,
  keyId: string,
  now: number,
): string {
  const id = JSON.stringify([
    keyId,
    claims.aud,
    claims.run,
    claims.principal ?? null,
    claims.trace,
  ]);
  const hit = signed.get(id);
  if (
    hit !== undefined &&
    hit.key === privateKey &&
    hit.ttl === ttlSeconds &&
    now >= hit.iat &&
    hit.exp - now > reuseMargin(ttlSeconds)
  ) {
    return hit.token;
  }
  const iat = now;
  const exp = now + ttlSeconds;
  const token = signRunContext({ ...claims, iat, exp }, privateKey, keyId);
  remember(signed, id, { token, key: privateKey, ttl: ttlSeconds, iat, exp });
  return token;
}

interface VerifiedEntry {
  readonly key: KeyObject;
  readonly claims: RunContextClaims;
}

const verified = new Map<string, VerifiedEntry>();

/**
 * `verifyRunContext`, without the signature check for a token whose signature was already
 * checked here with the same key object. Every other check (key still trusted, expiry,
 * not-yet-valid, audience, trace) runs on every call, in the same order.
 */
export function verifyRunContextCached(
  token: string | undefined,
  keys: ReadonlyMap<string, KeyObject>,
  expect: { audience: string; traceId: string | undefined; now: number },
): RunContextVerdict {
  const hit = token === undefined ? undefined : verified.get(token);
  if (hit !== undefined) {
    const key = keys.get(hit.claims.kid);
    if (key === undefined) return { ok: false, reason: 'unknown_key' };
    if (key === hit.key) {
      const claims = hit.claims;
      if (claims.iat > expect.now + 30) return { ok: false, reason: 'not_yet_valid' };
      if (expect.now >= claims.exp) return { ok: false, reason: 'expired' };
      if (claims.aud !== expect.audience) return { ok: false, reason: 'wrong_audience' };
      if (claims.trace !== expect.traceId) return { ok: false, reason: 'trace_mismatch' };
      return { ok: true, claims };
    }
  }
  const verdict = verifyRunContext(token, keys, expect);
  // Only a good signature is remembered (a refused token is checked in full every time);
  // an expired token is not worth keeping.
  if (token !== undefined && verdict.ok) {
    remember(verified, token, {
      key: keys.get(verdict.claims.kid)!,
      claims: Object.freeze(verdict.claims),
    });
  }
  return verdict;
}

/** Forgets every cached token (tests; `configureRunContextTrust` changes need no call). */
export function clearRunContextTokenCache(): void {
  signed.clear();
  verified.clear();
}

function remember<V>(map: Map<string, V>, id: string, value: V): void {
  map.delete(id);
  map.set(id, value);
  if (map.size > MAX_ENTRIES) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
}
