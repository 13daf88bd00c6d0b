import { type KeyObject, hash as oneShotHash } from 'node:crypto';
import * as fs from 'node:fs';
import { agesFor, type RetentionPolicy } from './retention-policy.js';
import { minAgeRefusal, minimumFor, type SegmentAges, segmentAges } from './retention-records.js';
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

/** What prune knows of the store's retention policy (see `retention-records.ts`). */
export interface PruneRetention {
  /** The policy in force (recorded in the store); undefined when none was ever recorded. */
  current: RetentionPolicy | undefined;
  now: number;
  origin: string;
  publicKey: KeyObject;
  /** Without `limit`: only segments sealed before this (ms; the store's `retentionMs`). */
  sealedBefore?: number;
}

/**
 * The sealed segments before `currentSegment` chosen for pruning, oldest first and contiguous,
 * and the prune statement naming them; undefined when none qualifies.
 *
 * With `limit` (ms), a segment qualifies when its seal is older than it. Without one (a
 * scheduled prune), when every data record in it is past its tenant's maximum age in the
 * current policy. With `retention`, every chosen segment is then held against the minimum
 * ages (`minimumFor`): one that holds a record younger than its minimum stops the prune with
 * `RETENTION_MIN_AGE` before anything is written.
 */
export function planPrune(
  dir: string,
  currentSegment: number,
  limit: number | undefined,
  statement: StatementBody,
  retention?: PruneRetention,
): PrunePlan | undefined {
  const chosen: Array<{
    segment: number;
    path: string;
    seal: { seq: number; hash: string };
    firstSeq: number;
  }> = [];
  for (const s of listSegments(dir)) {
    if (s.segment >= currentSegment) break;
    const ages = retention ? segmentAges(dir, s, retention.origin, retention.publicKey) : undefined;
    const ends = ages ?? readFirstAndLast(s.path);
    const last = ends?.last;
    const first = ends?.first;
    if (!first || last?.type !== 'segment.seal') break;
    if (limit !== undefined) {
      if (Date.parse(last.time) >= limit) break;
    } else if (
      !ages ||
      !retention ||
      (retention.sealedBefore !== undefined && Date.parse(last.time) >= retention.sealedBefore) ||
      !pastMaximum(ages, retention, last.time)
    ) {
      break;
    }
    if (ages && retention) {
      for (const [tenant, t] of ages.tenants) {
        const min = minimumFor(retention.current, ages.policies, tenant);
        if (retention.now - Date.parse(t.youngest) < min) {
          throw minAgeRefusal(dir, s.segment, tenant, t.youngest, retention.now, min);
        }
      }
    }
    chosen.push({ segment: s.segment, path: s.path, seal: last, firstSeq: first.seq });
  }
  const last = chosen[chosen.length - 1];
  if (!last) return undefined;
  return {
    files: chosen.map((c) => ({ segment: c.segment, path: c.path })),
    body: {
      origin: statement.origin,
      keyId: statement.keyId,
      time: statement.time,
      before: new Date(limit ?? Date.parse(statement.time)).toISOString(),
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

/**
 * A scheduled prune's rule: every data record is past its tenant's maximum age (a tenant
 * without a maximum keeps the segment). A segment without data records goes once its seal is
 * past the default maximum.
 */
function pastMaximum(ages: SegmentAges, retention: PruneRetention, sealTime: string): boolean {
  const current = retention.current;
  if (!current) return false;
  if (ages.tenants.size === 0) {
    return (
      current.maxAgeMs !== undefined && retention.now - Date.parse(sealTime) > current.maxAgeMs
    );
  }
  for (const [tenant, t] of ages.tenants) {
    const max = agesFor(current, tenant).maxAgeMs;
    if (max === undefined || retention.now - Date.parse(t.youngest) <= max) return false;
  }
  return true;
}
