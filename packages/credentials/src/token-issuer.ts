import { createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';
import { inspect } from 'node:util';
import {
  isValidName,
  isValidPrincipal,
  isValidScope,
  keyIdOf,
  newRef,
  type RunTokenClaims,
  TOKEN_PREFIX,
} from './token-format.js';

/** Longest lifetime a run token may be issued for: one day. Run tokens are short-lived. */
export const MAX_TTL_SECONDS = 86_400;

export interface TokenIssuerOptions {
  /** The Ed25519 private key (a KeyObject or PKCS#8 PEM). Required. */
  privateKey: KeyObject | string;
}

export interface IssueRunTokenOptions {
  /** `workflow.run_id` the token is bound to. Required. */
  runId: string;
  /** `agent.id`. Required. */
  agentId: string;
  /** `trigger.principal`. Required. */
  principal: string;
  tenantId?: string;
  /** What the token may do, e.g. `['github:read']`. Required, may be empty. */
  scopes: readonly string[];
  /** The service the token is meant for (a gateway's `audience`). Required. */
  audience: string;
  /** Lifetime in seconds. The default value is 900 (15 minutes); at most one day. */
  ttlSeconds?: number;
  /** Issue time. The default value is now. */
  now?: Date;
}

/**
 * An issued token. The secret is `token`; everything else is safe to log. `toJSON`,
 * `toString` and `util.inspect` show the reference only, so a token object that reaches a
 * logger or `JSON.stringify` by mistake does not leak the secret.
 */
export interface IssuedRunToken {
  /** The bearer secret `aat1.…`: give it to the agent; never log or record it. */
  readonly token: string;
  /** The public reference `aat_…`: record and log this. */
  readonly ref: string;
  readonly claims: RunTokenClaims;
  readonly expiresAt: Date;
}

export interface TokenIssuer {
  /** Id of the signing key (`k_…`), as tokens name it. */
  readonly keyId: string;
  /** The public key that verifies this issuer's tokens. */
  readonly publicKey: KeyObject;
  issue(options: IssueRunTokenOptions): IssuedRunToken;
}

function fail(name: string, expected: string, actual: string): Error {
  return new Error(`Configuration: ${name} is invalid, expected ${expected} (actual: ${actual})`);
}

function describe(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : typeof v;
}

/** Reads an Ed25519 private key; the message never contains the key. */
function privateKeyOf(key: KeyObject | string): KeyObject {
  let k: KeyObject;
  try {
    k = typeof key === 'string' ? createPrivateKey(key) : key;
  } catch {
    throw fail('privateKey', 'an Ed25519 private key (PKCS#8 PEM or KeyObject)', 'unreadable key');
  }
  if (k.type !== 'private' || k.asymmetricKeyType !== 'ed25519') {
    throw fail(
      'privateKey',
      'an Ed25519 private key',
      `${k.type} ${k.asymmetricKeyType ?? ''} key`,
    );
  }
  return k;
}

/** An issuer of run tokens signed with one Ed25519 key. */
export function createTokenIssuer(options: TokenIssuerOptions): TokenIssuer {
  const privateKey = privateKeyOf(options?.privateKey);
  const publicKey = createPublicKey(privateKey);
  const keyId = keyIdOf(publicKey);
  return Object.freeze({
    keyId,
    publicKey,
    issue(o: IssueRunTokenOptions): IssuedRunToken {
      if (!isValidName(o?.runId)) throw fail('runId', 'a run id', describe(o?.runId));
      if (!isValidName(o.agentId)) throw fail('agentId', 'an agent id', describe(o.agentId));
      if (!isValidPrincipal(o.principal)) {
        throw fail(
          'principal',
          '1-256 characters without control characters',
          describe(o.principal),
        );
      }
      if (o.tenantId !== undefined && !isValidName(o.tenantId)) {
        throw fail('tenantId', 'a tenant id', describe(o.tenantId));
      }
      if (!Array.isArray(o.scopes) || o.scopes.length > 64) {
        throw fail('scopes', 'an array of at most 64 scopes', describe(o.scopes));
      }
      for (const s of o.scopes) {
        if (!isValidScope(s)) throw fail('scopes', 'scopes of [A-Za-z0-9._:/*-]', describe(s));
      }
      if (!isValidName(o.audience)) throw fail('audience', 'a service name', describe(o.audience));
      const ttl = o.ttlSeconds ?? 900;
      if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) {
        throw fail('ttlSeconds', `an integer from 1 to ${MAX_TTL_SECONDS}`, String(ttl));
      }
      const now = o.now ?? new Date();
      if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
        throw fail('now', 'a valid Date', String(now));
      }
      const iat = Math.floor(now.getTime() / 1000);
      const claims: RunTokenClaims = Object.freeze({
        v: 1,
        ref: newRef(),
        kid: keyId,
        run: o.runId,
        agent: o.agentId,
        principal: o.principal,
        ...(o.tenantId === undefined ? {} : { tenant: o.tenantId }),
        scopes: Object.freeze([...o.scopes]),
        aud: o.audience,
        iat,
        exp: iat + ttl,
      });
      const payload = Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url');
      const signed = `${TOKEN_PREFIX}${payload}`;
      const signature = sign(null, Buffer.from(signed, 'ascii'), privateKey).toString('base64url');
      return issued(`${signed}.${signature}`, claims);
    },
  });
}

function issued(token: string, claims: RunTokenClaims): IssuedRunToken {
  const shown = { ref: claims.ref, claims };
  const out = {
    ref: claims.ref,
    claims,
    expiresAt: new Date(claims.exp * 1000),
    toJSON: () => shown,
    toString: () => claims.ref,
    [inspect.custom]: () => `IssuedRunToken ${claims.ref} (secret not shown)`,
  };
  Object.defineProperty(out, 'token', { value: token, enumerable: false });
  return Object.freeze(out) as unknown as IssuedRunToken;
}
