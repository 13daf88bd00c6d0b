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
    issuer: `agent-audit-token:${issued.claims.kid}`,
    audience: issued.claims.aud,
  });
}
