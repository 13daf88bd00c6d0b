import { recordCredentialIssued } from '@agent-audit/instrumentation';
import type { IssuedRunToken } from './token-issuer.js';

/**
 * Records the issue of a run token in the trail (event `credential.issued` on the active span,
 * with its reference, scopes, audience, expiry and signing key id; never the token). Call it
 * inside the run the token is bound to, whose `credentialRef` is `issued.ref`.
 */
export function recordTokenIssued(issued: IssuedRunToken): void {
  recordCredentialIssued({
    ref: issued.ref,
    scopes: [...issued.claims.scopes],
    expiresAt: issued.expiresAt,
    // Not `…token:<kid>`: the redaction rule for `token: <opaque value>` would take the key id
    // for a secret and record `[REDACTED:secret_assignment]` in its place.
    issuer: `agent-audit key ${issued.claims.kid}`,
    audience: issued.claims.aud,
  });
}
