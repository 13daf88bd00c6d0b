import { generateKeyPairSync } from 'node:crypto';
import { keyIdOf } from './token-format.js';

/** A new Ed25519 key pair for signing run tokens, as PEM text. */
export interface TokenKeyPair {
  /** `k_…`, as tokens signed with it name it. */
  keyId: string;
  /** PKCS#8 PEM: keep it where only the issuer reads it. */
  privateKeyPem: string;
  /** SPKI PEM: give it to every verifier (gateway, services). */
  publicKeyPem: string;
}

export function generateTokenKeyPair(): TokenKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    keyId: keyIdOf(publicKey),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}
