import { type KeyObject, sign, verify } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

/**
 * The body of a prune record. `sig` is Ed25519 over the canonical JSON of every other member,
 * so that the statement "these segments were removed on purpose" is signed on its own and not
 * only through the next checkpoint.
 */
export interface PruneBody {
  origin: string;
  keyId: string;
  time: string;
  /** ISO time: segments whose records all end before this were eligible. */
  before: string;
  segments: number[];
  firstSeq: number;
  lastSeq: number;
  /** Hash of record `lastSeq`: the `prev` of the first remaining record. */
  lastHash: string;
  /** SHA-256 of each removed segment file, for an auditor holding an archived copy. */
  digests: Array<{ segment: number; sha256: string; bytes: number }>;
}

export function signPrune(body: PruneBody, privateKey: KeyObject): PruneBody & { sig: string } {
  const sig = sign(null, Buffer.from(canonicalJson(body)), privateKey).toString('base64');
  return { ...body, sig };
}

export function verifyPruneSignature(
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
