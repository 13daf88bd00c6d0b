import type { KeyObject } from 'node:crypto';
import { type StatementBody, signStatement } from './signed-statement.js';

/**
 * Payloads of the writer's session statements (`store.close`, `session.open`, `loss`), each a
 * signed statement (see `signed-statement.ts` and docs/store-format.md). Builders take the
 * facts and the key and return the signed payload; shape checks are for readers that must not
 * trust what they find in a segment.
 */

/** A position in the chain: a record's seq and hash. */
export interface ChainPoint {
  seq: number;
  hash: string;
}

/** A range of seqs, both ends included. */
export interface SeqRange {
  fromSeq: number;
  toSeq: number;
}

/**
 * `store.close`: written by a clean `close()` / `closeSync()` as the last ordinary record,
 * followed at once by the final checkpoint (whose `size` is this record's seq).
 */
export interface StoreCloseBody extends StatementBody {
  /** Seq of the record before this one. */
  lastSeq: number;
  /** Hash of the record before this one. */
  lastHash: string;
}

/**
 * `session.open`: written by every writer open of an existing store, after that open's
 * `recovery` records and before anything else.
 */
export interface SessionOpenBody extends StatementBody {
  /** The record right before this one. */
  after: ChainPoint;
  /** `closed` iff the chain before this record ends with `store.close` and its checkpoint. */
  previous: 'closed' | 'crashed';
  /** Highest record the previous writer is known to have acknowledged. */
  attested: ChainPoint;
  /**
   * Records found after `attested` (validly signed checkpoint records excluded) that this
   * writer signs over without anyone having acknowledged them; null when there are none or
   * when `previous` is `closed`.
   */
  unattested: SeqRange | null;
}

/** Rejected appends of one run (`run: ""` for entries with no run tag). */
export interface LossRun {
  run: string;
  count: number;
}

/**
 * `loss`: written once an append succeeds again after one or more appends failed while the
 * store was not fail-closed, before the record whose append succeeded.
 */
export interface LossBody extends StatementBody {
  /** StoreError code of the failure (e.g. `STORE_DISK_FULL`, `STORE_IO`). */
  reason: string;
  /** Entries rejected in total. */
  count: number;
  /** ISO time of the first rejected entry. */
  firstTime: string;
  /** ISO time of the last rejected entry. */
  lastTime: string;
  /** Per run, sorted by `run`. */
  runs: LossRun[];
}

export type Signed<T> = T & { sig: string };

export function buildStoreClose(
  body: StoreCloseBody,
  privateKey: KeyObject,
): Signed<StoreCloseBody> {
  return signStatement(
    {
      origin: body.origin,
      keyId: body.keyId,
      time: body.time,
      lastSeq: body.lastSeq,
      lastHash: body.lastHash,
    },
    privateKey,
  );
}

export function buildSessionOpen(
  body: SessionOpenBody,
  privateKey: KeyObject,
): Signed<SessionOpenBody> {
  return signStatement(
    {
      origin: body.origin,
      keyId: body.keyId,
      time: body.time,
      after: { seq: body.after.seq, hash: body.after.hash },
      previous: body.previous,
      attested: { seq: body.attested.seq, hash: body.attested.hash },
      unattested:
        body.previous === 'closed' || body.unattested === null
          ? null
          : { fromSeq: body.unattested.fromSeq, toSeq: body.unattested.toSeq },
    },
    privateKey,
  );
}

export function buildLoss(body: LossBody, privateKey: KeyObject): Signed<LossBody> {
  const runs = [...body.runs]
    .map((r) => ({ run: r.run, count: r.count }))
    .sort((a, b) => (a.run < b.run ? -1 : a.run > b.run ? 1 : 0));
  return signStatement(
    {
      origin: body.origin,
      keyId: body.keyId,
      time: body.time,
      reason: body.reason,
      count: body.count,
      firstTime: body.firstTime,
      lastTime: body.lastTime,
      runs,
    },
    privateKey,
  );
}

const HASH = /^[0-9a-f]{64}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isChainPoint(value: unknown): value is ChainPoint {
  return (
    isObject(value) && isSeq(value.seq) && typeof value.hash === 'string' && HASH.test(value.hash)
  );
}

function statementProblem(p: Record<string, unknown>): string | undefined {
  if (typeof p.origin !== 'string' || p.origin.length === 0) return 'origin is not a string';
  if (typeof p.keyId !== 'string' || p.keyId.length === 0) return 'keyId is not a string';
  if (typeof p.time !== 'string' || Number.isNaN(Date.parse(p.time)))
    return 'time is not an ISO time';
  if (typeof p.sig !== 'string') return 'sig is not a string';
  return undefined;
}

/** Why `payload` is not a well-formed `store.close` payload, or undefined when it is. */
export function storeCloseShapeProblem(payload: unknown): string | undefined {
  if (!isObject(payload)) return 'payload is not an object';
  const base = statementProblem(payload);
  if (base) return base;
  if (!isSeq(payload.lastSeq)) return 'lastSeq is not a non-negative integer';
  if (typeof payload.lastHash !== 'string' || !HASH.test(payload.lastHash)) {
    return 'lastHash is not a 64-digit hex hash';
  }
  return undefined;
}

/** Why `payload` is not a well-formed `session.open` payload, or undefined when it is. */
export function sessionOpenShapeProblem(payload: unknown): string | undefined {
  if (!isObject(payload)) return 'payload is not an object';
  const base = statementProblem(payload);
  if (base) return base;
  if (!isChainPoint(payload.after)) return 'after is not {seq, hash}';
  if (payload.previous !== 'closed' && payload.previous !== 'crashed') {
    return 'previous is not "closed" or "crashed"';
  }
  if (!isChainPoint(payload.attested)) return 'attested is not {seq, hash}';
  const u = payload.unattested;
  if (u !== null) {
    if (!isObject(u) || !isSeq(u.fromSeq) || !isSeq(u.toSeq) || u.fromSeq > u.toSeq) {
      return 'unattested is not null or {fromSeq, toSeq} with fromSeq <= toSeq';
    }
  }
  return undefined;
}

/** Why `payload` is not a well-formed `loss` payload, or undefined when it is. */
export function lossShapeProblem(payload: unknown): string | undefined {
  if (!isObject(payload)) return 'payload is not an object';
  const base = statementProblem(payload);
  if (base) return base;
  if (typeof payload.reason !== 'string') return 'reason is not a string';
  if (!isSeq(payload.count) || payload.count < 1) return 'count is not a positive integer';
  if (typeof payload.firstTime !== 'string' || typeof payload.lastTime !== 'string') {
    return 'firstTime/lastTime are not ISO times';
  }
  if (!Array.isArray(payload.runs)) return 'runs is not an array';
  for (const r of payload.runs) {
    if (!isObject(r) || typeof r.run !== 'string' || !isSeq(r.count)) {
      return 'runs entries are not {run, count}';
    }
  }
  return undefined;
}

/**
 * The writer witness: `<anchor file>.<origin>.head`, canonical JSON `{origin, seq, hash, time}`
 * plus a newline, overwritten after every group commit. Records at or below its seq (hash
 * matching) were acknowledged by the writer that wrote it.
 */
export interface WitnessBody {
  origin: string;
  seq: number;
  hash: string;
  time: string;
}

export function witnessPath(anchorPath: string, origin: string): string {
  return `${anchorPath}.${origin}.head`;
}
