export { recordTokenIssued } from './record-token-issued.js';
export type { RunTokenClaims } from './token-format.js';
export { KEY_ID_PATTERN, keyIdOf, REF_PATTERN, TOKEN_PREFIX } from './token-format.js';
export type {
  IssuedRunToken,
  IssueRunTokenOptions,
  TokenIssuer,
  TokenIssuerOptions,
} from './token-issuer.js';
export { createTokenIssuer, MAX_TTL_SECONDS } from './token-issuer.js';
export type { TokenKeyPair } from './token-keys.js';
export { generateTokenKeyPair } from './token-keys.js';
export type {
  TokenRefusalReason,
  TokenVerification,
  TokenVerifier,
  TokenVerifierOptions,
  VerifyOptions,
} from './token-verifier.js';
export { createTokenVerifier } from './token-verifier.js';
