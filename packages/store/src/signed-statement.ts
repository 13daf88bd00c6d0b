import { type KeyObject, sign, verify } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

/**
 * The members every signed statement carries (prune, store.close, session.open, loss): who
 * signed it, with which key, and when.
 */
export interface StatementBody {
  origin: string;
  keyId: string;
  time: string;
}

/**
 * Sign a statement: Ed25519 over the RFC 8785 canonical JSON of `body`, returned as `body`
 * plus `sig` in standard base64. The statement is signed on its own, not only through the
 * next checkpoint, so that what it says survives even when the chain around it is cut.
 */
export function signStatement<T extends StatementBody>(
  body: T,
  privateKey: KeyObject,
): T & { sig: string } {
  const sig = sign(null, Buffer.from(canonicalJson(body)), privateKey).toString('base64');
  return { ...body, sig };
}

/**
 * True when `payload.sig` is a valid Ed25519 signature by `publicKey` over the canonical JSON
 * of every other member. Never throws: a malformed signature or payload is simply not valid.
 */
export function verifyStatementSignature(
  payload: Record<string, unknown>,
  publicKey: KeyObject,
): boolean {
  const { sig, ...body } = payload;
  if (typeof sig !== 'string') return false;
  const bytes = Buffer.from(sig, 'base64');
  if (bytes.length !== 64) return false;
  try {
    return verify(null, Buffer.from(canonicalJson(body)), publicKey, bytes);
  } catch {
    return false;
  }
}
