import type { KeyObject } from 'node:crypto';
import { type StatementBody, signStatement, verifyStatementSignature } from './signed-statement.js';

/**
 * The body of a prune record, a signed statement (see `signed-statement.ts`): "these segments
 * were removed on purpose" is signed on its own and not only through the next checkpoint.
 */
export interface PruneBody extends StatementBody {
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
  return signStatement(body, privateKey);
}

export function verifyPruneSignature(
  payload: Record<string, unknown>,
  publicKey: KeyObject,
): boolean {
  return verifyStatementSignature(payload, publicKey);
}
