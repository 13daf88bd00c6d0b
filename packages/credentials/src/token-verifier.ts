import { createPublicKey, type KeyObject, verify as verifySignature } from 'node:crypto';
import {
  keyIdOf,
  parseClaims,
  REF_PATTERN,
  type RunTokenClaims,
  splitToken,
} from './token-format.js';

/** Why a token was not accepted. */
export type TokenRefusalReason =
  | 'malformed'
  | 'unknown_key'
  | 'bad_signature'
  | 'revoked'
  | 'not_yet_valid'
  | 'expired'
  | 'wrong_audience'
  | 'scope_not_granted';

export type TokenVerification =
  | { readonly ok: true; readonly claims: RunTokenClaims }
  | {
      readonly ok: false;
      readonly reason: TokenRefusalReason;
      /** One line for a log or an HTTP error body (never contains the token). */
      readonly message: string;
      /**
       * The claims, when the signature checked out (expired, revoked, wrong audience, scope
       * not granted): the token is authentic, so the refusal can be attributed to its run.
       */
      readonly claims?: RunTokenClaims;
      /**
       * The reference a token whose signature did NOT check out claims to have. Unverified:
       * anyone can write it; record it only as claimed.
       */
      readonly claimedRef?: string;
    };

export interface TokenVerifierOptions {
  /** The issuers' Ed25519 public keys (SPKI PEM or KeyObject). Required, at least one. */
  publicKeys: ReadonlyArray<KeyObject | string>;
  /** References that were revoked: a set, or a function asked for each verified token. */
  revoked?: ReadonlySet<string> | ((ref: string) => boolean);
  /** Seconds of clock difference tolerated for `iat` and `exp`. The default value is 0. */
  clockToleranceSeconds?: number;
  /**
   * How many tokens whose signature checked out are remembered (by their exact text), so a
   * token used again skips the signature check; revocation, expiry, audience and scope are
   * checked on every use. The default value is 1024; 0 turns it off.
   */
  cacheSize?: number;
}

export interface VerifyOptions {
  /** The audience this verifier serves; a token for another one is `wrong_audience`. Required. */
  audience: string;
  /** A scope the use needs; absent from the token's scopes is `scope_not_granted`. */
  scope?: string;
  /** The time of the check. The default value is now. */
  now?: Date;
}

export interface TokenVerifier {
  /** Key ids this verifier trusts. */
  readonly keyIds: readonly string[];
  verify(token: string, options: VerifyOptions): TokenVerification;
}

function publicKeyOf(key: KeyObject | string, i: number): KeyObject {
  let k: KeyObject;
  try {
    k = typeof key === 'string' ? createPublicKey(key) : key;
  } catch {
    throw new Error(
      `Configuration: publicKeys[${i}] is invalid, expected an Ed25519 public key (SPKI PEM or KeyObject) (actual: unreadable key)`,
    );
  }
  if (k.type === 'private') k = createPublicKey(k);
  if (k.asymmetricKeyType !== 'ed25519') {
    throw new Error(
      `Configuration: publicKeys[${i}] is invalid, expected an Ed25519 public key (actual: ${k.asymmetricKeyType} key)`,
    );
  }
  return k;
}

/**
 * Verifies run tokens offline against a fixed set of issuer keys. Order of checks: shape,
 * key, signature (nothing of an unsigned token is believed), then revocation, validity window,
 * audience and scope on the authentic claims.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  if (!Array.isArray(options?.publicKeys) || options.publicKeys.length === 0) {
    throw new Error(
      `Configuration: publicKeys is invalid, expected at least one Ed25519 public key (actual: ${Array.isArray(options?.publicKeys) ? 'none' : typeof options?.publicKeys})`,
    );
  }
  const keys = new Map<string, KeyObject>();
  options.publicKeys.forEach((k, i) => {
    const key = publicKeyOf(k, i);
    keys.set(keyIdOf(key), key);
  });
  const tolerance = options.clockToleranceSeconds ?? 0;
  if (!Number.isSafeInteger(tolerance) || tolerance < 0 || tolerance > 300) {
    throw new Error(
      `Configuration: clockToleranceSeconds is invalid, expected an integer from 0 to 300 (actual: ${String(tolerance)})`,
    );
  }
  const cacheSize = options.cacheSize ?? 1024;
  if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) {
    throw new Error(
      `Configuration: cacheSize is invalid, expected an integer >= 0 (actual: ${String(cacheSize)})`,
    );
  }
  // Token text → its authentic claims; insertion order gives the eviction order.
  const verified = new Map<string, RunTokenClaims>();
  const revoked = options.revoked;
  const isRevoked =
    revoked === undefined
      ? () => false
      : typeof revoked === 'function'
        ? revoked
        : (ref: string) => revoked.has(ref);

  return Object.freeze({
    keyIds: Object.freeze([...keys.keys()]),
    verify(token: string, o: VerifyOptions): TokenVerification {
      const known = typeof token === 'string' ? verified.get(token) : undefined;
      if (known !== undefined) return checkClaims(known, o);
      const parts = typeof token === 'string' ? splitToken(token) : undefined;
      if (parts === undefined) {
        return refuse('malformed', 'not a run token (expected aat1.<claims>.<signature>)');
      }
      let claims: RunTokenClaims | string;
      try {
        claims = parseClaims(JSON.parse(Buffer.from(parts.claims, 'base64url').toString('utf8')));
      } catch {
        claims = 'claims are not JSON';
      }
      if (typeof claims === 'string') return refuse('malformed', `malformed claims: ${claims}`);
      const claimedRef = REF_PATTERN.test(claims.ref) ? claims.ref : undefined;
      const key = keys.get(claims.kid);
      if (key === undefined) {
        return refuse('unknown_key', `signed with key ${claims.kid}, which is not trusted here`, {
          claimedRef,
        });
      }
      const good = verifySignature(
        null,
        Buffer.from(parts.signed, 'ascii'),
        key,
        Buffer.from(parts.signature, 'base64url'),
      );
      if (!good) return refuse('bad_signature', 'the signature does not match', { claimedRef });
      if (cacheSize > 0) {
        if (verified.size >= cacheSize) verified.delete(verified.keys().next().value as string);
        verified.set(token, claims);
      }
      return checkClaims(claims, o);
    },
  });

  /** The checks on authentic claims, made on every use. */
  function checkClaims(claims: RunTokenClaims, o: VerifyOptions): TokenVerification {
    if (isRevoked(claims.ref)) return refuse('revoked', `${claims.ref} was revoked`, { claims });
    const now = Math.floor((o?.now ?? new Date()).getTime() / 1000);
    if (claims.iat > now + tolerance) {
      return refuse('not_yet_valid', `${claims.ref} is issued in the future`, { claims });
    }
    if (now >= claims.exp + tolerance) {
      const at = new Date(claims.exp * 1000).toISOString();
      return refuse('expired', `${claims.ref} expired at ${at}`, { claims });
    }
    if (claims.aud !== o?.audience) {
      return refuse('wrong_audience', `${claims.ref} is for audience ${claims.aud}`, { claims });
    }
    if (o.scope !== undefined && !claims.scopes.includes(o.scope)) {
      return refuse('scope_not_granted', `${claims.ref} does not grant scope ${o.scope}`, {
        claims,
      });
    }
    return Object.freeze({ ok: true as const, claims });
  }
}

function refuse(
  reason: TokenRefusalReason,
  message: string,
  extra: { claims?: RunTokenClaims; claimedRef?: string | undefined } = {},
): TokenVerification {
  const out: {
    ok: false;
    reason: TokenRefusalReason;
    message: string;
    claims?: RunTokenClaims;
    claimedRef?: string;
  } = { ok: false, reason, message };
  if (extra.claims !== undefined) out.claims = extra.claims;
  if (extra.claimedRef !== undefined) out.claimedRef = extra.claimedRef;
  return Object.freeze(out);
}
