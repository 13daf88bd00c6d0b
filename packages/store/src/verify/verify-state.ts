import type { KeyObject } from 'node:crypto';
import type { AnchorEntry } from '../anchor-file.js';
import { GENESIS_HASH } from '../record-format.js';
import type {
  VerifyLoss,
  VerifyOverAge,
  VerifyPrune,
  VerifyRecovery,
  VerifyRetentionPolicy,
  VerifySession,
} from '../types.js';
import { ProblemLog } from './problem-log.js';
import type { SegmentSource } from './segment-source.js';

/** A checkpoint read from the anchor or the store's checkpoint log, compared at its seq. */
export interface ExternalCheckpoint {
  entry: AnchorEntry & { line?: number };
  source: 'anchor' | 'store checkpoint log';
  /** Whether record `size` has the checkpoint's head; undefined until the scan reaches it. */
  matched: boolean | undefined;
}

/** A record's envelope members that the checks below use. */
export interface RecordAt {
  seq: number;
  prev: string;
  payloadStart: number;
  payloadEnd: number;
}

/**
 * What one verification has learnt so far: the problems, the chain position, and what the
 * trust checks collect on the way (checkpoints, prune and recovery records). The chain scan
 * and the trust checks share it; nothing else does.
 */
export class VerifyState {
  readonly source: SegmentSource;
  readonly log = new ProblemLog();
  keys = new Map<string, KeyObject>();
  origin: string | null = null;
  // counts for the report
  records = 0;
  bytes = 0;
  segments = 0;
  checkpoints = 0;
  signedThrough = 0;
  headSeq = 0;
  headHash = GENESIS_HASH;
  recoveries: VerifyRecovery[] = [];
  pruned: VerifyPrune[] = [];
  anchorChecked = false;
  // chain position
  /** Seq the next record must have; undefined before the first record of a pruned store. */
  expectedSeq: number | undefined;
  /** Hash the next record's `prev` must equal; undefined after a line that is not a record. */
  prevHash: string | undefined;
  lastTime = '';
  timeRegressions = 0;
  lastNonCheckpointSeq = 0;
  firstPresent: { seq: number; prev: string; segment: number } | undefined;
  // trust material met on the way
  /** Anchor and checkpoint-log entries of this origin, by `size`. */
  external = new Map<number, ExternalCheckpoint[]>();
  /** Prune record seq → its `lastHash`. */
  pruneHashes = new Map<number, string>();
  /** size → signature of the in-chain checkpoint record that follows record `size`. */
  inChainSigs = new Map<number, string>();
  checkpointSeqs = new Set<number>();
  /** Sizes of the chained checkpoint records that passed their checks, in chain order. */
  goodCheckpointSizes: number[] = [];
  sessions: VerifySession[] = [];
  losses: VerifyLoss[] = [];
  retentionPolicies: VerifyRetentionPolicy[] = [];
  overAge: VerifyOverAge[] = [];
  /** A `store.close` at `seq` whose checkpoint (C+1) or session.open (C+2) is still due. */
  close: { seq: number; phase: 'checkpoint' | 'session' } | undefined;
  /** Seq of the checkpoint that completed the latest clean close. */
  cleanlyClosedAt: number | undefined;
  /** Seq of a session.open that must be a valid one right after a clean close. */
  sessionMustFollowClose: number | undefined;
  /** The writer witness of this origin; `found` is the hash of record `seq` once scanned. */
  witness: { seq: number; hash: string; file: string; found?: string } | undefined;

  constructor(source: SegmentSource) {
    this.source = source;
  }
}

/** The payload of a record as an object, or undefined when it is not one. */
export function payloadOf(
  buf: Buffer,
  env: { payloadStart: number; payloadEnd: number },
): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(buf.toString('utf8', env.payloadStart, env.payloadEnd)) as unknown;
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
