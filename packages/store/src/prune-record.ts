import { type KeyObject, hash as oneShotHash } from 'node:crypto';
import * as fs from 'node:fs';
import { listSegments, readFirstAndLast } from './segment-files.js';
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

/** Sealed segments chosen for pruning, with what their prune record states. */
export interface PrunePlan {
  files: Array<{ segment: number; path: string }>;
  body: PruneBody;
}

/**
 * The sealed segments before `currentSegment` whose seal is older than `limit` (ms), oldest
 * first and contiguous, and the prune statement naming them; undefined when none qualifies.
 */
export function planPrune(
  dir: string,
  currentSegment: number,
  limit: number,
  statement: StatementBody,
): PrunePlan | undefined {
  const chosen: Array<{
    segment: number;
    path: string;
    seal: { seq: number; hash: string };
    firstSeq: number;
  }> = [];
  for (const s of listSegments(dir)) {
    if (s.segment >= currentSegment) break;
    const ends = readFirstAndLast(s.path);
    if (ends?.last.type !== 'segment.seal' || Date.parse(ends.last.time) >= limit) break;
    chosen.push({ segment: s.segment, path: s.path, seal: ends.last, firstSeq: ends.first.seq });
  }
  const last = chosen[chosen.length - 1];
  if (!last) return undefined;
  return {
    files: chosen.map((c) => ({ segment: c.segment, path: c.path })),
    body: {
      origin: statement.origin,
      keyId: statement.keyId,
      time: statement.time,
      before: new Date(limit).toISOString(),
      segments: chosen.map((c) => c.segment),
      firstSeq: chosen[0]!.firstSeq,
      lastSeq: last.seal.seq,
      lastHash: last.seal.hash,
      digests: chosen.map((c) => {
        const bytes = fs.readFileSync(c.path);
        return {
          segment: c.segment,
          sha256: oneShotHash('sha256', bytes, 'hex'),
          bytes: bytes.length,
        };
      }),
    },
  };
}
