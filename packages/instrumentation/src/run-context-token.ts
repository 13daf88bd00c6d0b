/*
 * A signed run context: `arc1.<claims>.<signature>` (base64url), Ed25519 over the ASCII bytes
 * `arc1.<claims>`. Claims: `{ v: 1, kid, run, principal?, trace, aud, iat, exp }` (seconds).
 * The caller signs the run it propagates, bound to the W3C trace id it sends; the receiver
 * verifies it with the keys of its trust configuration before adopting the run and principal.
 * It authenticates the caller's assertion; it is not a secret (a captured header replays only
 * into the same trace, for the same audience, until it expires).
 */
import { createHash, type KeyObject, sign, verify } from 'node:crypto';
import { isValidPrincipal, isValidRunId } from './run-context.js';

export const RUN_CONTEXT_TOKEN_PREFIX = 'arc1.';
const MAX_LENGTH = 4096;

export interface RunContextClaims {
  readonly v: 1;
  readonly kid: string;
  readonly run: string;
  readonly principal?: string;
  readonly trace: string;
  readonly aud: string;
  readonly iat: number;
  readonly exp: number;
}

/** Why a signed run context was not accepted; `unsigned` when there was none. */
export type RunContextClaimReason =
  | 'unsigned'
  | 'malformed'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_audience'
  | 'trace_mismatch'
  | 'run_mismatch';

/** `k_` + 16 hex digits of SHA-256 over the public key (SPKI DER). */
export function runContextKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return `k_${createHash('sha256').update(der).digest('hex').slice(0, 16)}`;
}

export function signRunContext(
  claims: Omit<RunContextClaims, 'v' | 'kid'>,
  privateKey: KeyObject,
  keyId: string,
): string {
  const body: RunContextClaims = { v: 1, kid: keyId, ...claims };
  const payload = Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
  const signed = `${RUN_CONTEXT_TOKEN_PREFIX}${payload}`;
  return `${signed}.${sign(null, Buffer.from(signed, 'ascii'), privateKey).toString('base64url')}`;
}

export type RunContextVerdict =
  | { ok: true; claims: RunContextClaims }
  | { ok: false; reason: RunContextClaimReason };

export function verifyRunContext(
  token: string | undefined,
  keys: ReadonlyMap<string, KeyObject>,
  expect: { audience: string; traceId: string | undefined; now: number },
): RunContextVerdict {
  if (token === undefined || token === '') return { ok: false, reason: 'unsigned' };
  if (token.length > MAX_LENGTH || !token.startsWith(RUN_CONTEXT_TOKEN_PREFIX)) {
    return { ok: false, reason: 'malformed' };
  }
  const parts = token.slice(RUN_CONTEXT_TOKEN_PREFIX.length).split('.');
  if (
    parts.length !== 2 ||
    !/^[A-Za-z0-9_-]+$/.test(parts[0]!) ||
    !/^[A-Za-z0-9_-]{86}$/.test(parts[1]!)
  ) {
    return { ok: false, reason: 'malformed' };
  }
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (
    c === null ||
    typeof c !== 'object' ||
    c.v !== 1 ||
    typeof c.kid !== 'string' ||
    !isValidRunId(c.run) ||
    (c.principal !== undefined && !isValidPrincipal(c.principal)) ||
    typeof c.trace !== 'string' ||
    !/^[0-9a-f]{32}$/.test(c.trace) ||
    typeof c.aud !== 'string' ||
    !Number.isSafeInteger(c.iat) ||
    !Number.isSafeInteger(c.exp)
  ) {
    return { ok: false, reason: 'malformed' };
  }
  const key = keys.get(c.kid);
  if (key === undefined) return { ok: false, reason: 'unknown_key' };
  const signed = Buffer.from(`${RUN_CONTEXT_TOKEN_PREFIX}${parts[0]}`, 'ascii');
  if (!verify(null, signed, key, Buffer.from(parts[1]!, 'base64url'))) {
    return { ok: false, reason: 'bad_signature' };
  }
  const claims = c as unknown as RunContextClaims;
  if (claims.iat > expect.now + 30) return { ok: false, reason: 'not_yet_valid' };
  if (expect.now >= claims.exp) return { ok: false, reason: 'expired' };
  if (claims.aud !== expect.audience) return { ok: false, reason: 'wrong_audience' };
  if (claims.trace !== expect.traceId) return { ok: false, reason: 'trace_mismatch' };
  return { ok: true, claims };
}
