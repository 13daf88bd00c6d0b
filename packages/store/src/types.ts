import type { KeyObject } from 'node:crypto';
import type { FsLayer } from './fs-layer.js';
import type { RetentionPolicy, RetentionPolicyInput } from './retention-policy.js';
import type { VerifyProblemCode } from './verify/problem-codes.js';

/** Any value that has an RFC 8785 canonical form. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** Index keys, extracted by the SDK so that the store never has to understand OTLP. */
export interface RecordTags {
  run?: string;
  agent?: string;
  principal?: string;
  tool?: string;
  tenant?: string;
  trace?: string;
  span?: string;
  parent?: string;
  /** On `span.end` records: the outcome of the span, e.g. `ok` or `error`. */
  status?: string;
  [key: string]: string | undefined;
}

/**
 * Record types a caller may append; the others are written by the store itself. `alert` is
 * written by the watcher (`@agent-audit/watch`) into its own store (docs/store-format.md).
 */
export type EntryType = 'span.start' | 'span.end' | 'event' | 'alert';

export type RecordType =
  | EntryType
  | 'segment.open'
  | 'segment.seal'
  | 'checkpoint'
  | 'recovery'
  | 'prune'
  | 'store.close'
  | 'session.open'
  | 'loss'
  | 'retention.policy';

export interface AppendEntry {
  type: EntryType;
  tags?: RecordTags;
  payload: JsonValue | unknown;
}

export interface AppendResult {
  seq: number;
  hash: string;
}

/** A record as read back from a segment, its hash already checked against its bytes. */
export interface StoredRecord {
  seq: number;
  prev: string;
  hash: string;
  time: string;
  type: RecordType;
  tags: RecordTags;
  payload: JsonValue;
  /** Segment number (the file `segments/NNNNNNNN.jsonl`). */
  segment: number;
  /** Byte offset of the line inside its segment. */
  offset: number;
  /** Length of the line in bytes, newline excluded. */
  length: number;
}

/** The signed part of a checkpoint; `sig` is Ed25519 over its canonical JSON. */
export interface CheckpointBody {
  origin: string;
  size: number;
  head: string;
  time: string;
  keyId: string;
}

export interface SignedCheckpoint extends CheckpointBody {
  /** Base64 Ed25519 signature over the canonical JSON of the `CheckpointBody`. */
  sig: string;
}

/** Something the store wants an operator to know once (e.g. a key pair was generated). */
export interface StoreNotice {
  code: string;
  message: string;
}

export interface AuditStoreOptions {
  /** Store directory. Created when missing. The default value is `./.agent-audit`. */
  dir?: string;
  /**
   * Directory with trust material, meant to live outside the store (ideally another volume).
   * The default value is `./.agent-audit-trust`.
   */
  trustDir?: string;
  /**
   * Ed25519 private key (KeyObject or PEM). The default is `<trustDir>/signing-key.pem`,
   * generated together with `public-key.pem` on first use when absent (reported through
   * `onNotice`).
   */
  signingKey?: KeyObject | string;
  /** Anchor file that receives every checkpoint. The default value is `<trustDir>/anchor.jsonl`. */
  anchorPath?: string;
  /** Sign a checkpoint after this many records. The default value is 1000. */
  checkpointEveryRecords?: number;
  /** Sign a checkpoint at least this often while records arrive. The default value is 5000 ms. */
  checkpointIntervalMs?: number;
  /** Seal the current segment and start a new one past this size. The default value is 64 MiB. */
  segmentMaxBytes?: number;
  /** Seal the current segment once it is this old (ms). The default value is 86 400 000 (1 day). */
  segmentMaxAgeMs?: number;
  /**
   * Minimum age (ms) of a segment's last record before `prune` may remove it. The default
   * value is 0 (no minimum beyond `before`).
   */
  retentionMs?: number;
  /**
   * The store's retention policy (docs/store-format.md, "Retention policy"): minimum and
   * maximum age, per tenant where given. Recorded in the store as a signed
   * `retention.policy` record when it differs from the one last recorded; without it, the
   * recorded policy stays in force. The default is none (the recorded one, if any).
   */
  retention?: RetentionPolicyInput;
  /**
   * Prune on a schedule: every this many ms the writer removes the sealed segments whose data
   * is past the recorded policy's maximum age (never below its minimum). A failed run is
   * reported through `onNotice` (`PRUNE_FAILED`) and tried again at the next tick. The default
   * value is 0 (never).
   */
  pruneEveryMs?: number;
  /** Called once per notable event (key generated, torn tail recovered, …). */
  onNotice?: (notice: StoreNotice) => void;
  /** File-system layer; tests inject faults through it. The default is `node:fs`. */
  fs?: FsLayer;
  /** Clock; tests inject a clock that jumps backwards. The default is `() => new Date()`. */
  now?: () => Date;
}

export interface PruneOptions {
  /**
   * Remove whole sealed segments whose every record is older than this. Without it, the
   * segments whose data is past the recorded policy's maximum age go (a policy is needed).
   */
  before?: Date;
}

export interface PruneResult {
  /** Segment numbers removed (empty when nothing was eligible). */
  segments: number[];
  /** Seq of the signed prune record, when one was written. */
  seq?: number;
  firstSeq?: number;
  lastSeq?: number;
}

export interface RunFilter {
  principal?: string;
  agent?: string;
  tool?: string;
  tenant?: string;
  since?: Date;
  until?: Date;
}

export interface RunSummary {
  run_id: string;
  principal: string | null;
  agent_id: string | null;
  start: string;
  end: string;
  status: 'ok' | 'error' | 'incomplete' | 'unknown';
  spans: number;
  incomplete: boolean;
  /** Records of this run the writer could not store (from `loss` records); absent when none. */
  lost_records?: number;
}

export interface VerifyProblem {
  /** One of the codes of `PROBLEM_EXIT` (verify/problem-codes.ts), documented in docs/store-format.md. */
  code: VerifyProblemCode;
  /** `tampering` → exit 1, `unverifiable` → exit 2, `io` → exit 3, `warning` → no effect. */
  kind: 'tampering' | 'unverifiable' | 'io' | 'warning';
  message: string;
  segment?: number;
  seq?: number;
}

export interface VerifyRecovery {
  seq: number;
  segment: number;
  /** Segment and offset the torn bytes were cut from. */
  tornSegment: number;
  offset: number;
  length: number;
  sha256: string;
  file: string;
  reason: string;
}

export interface VerifyPrune {
  seq: number;
  segments: number[];
  firstSeq: number;
  lastSeq: number;
  before: string;
}

/** A `retention.policy` record that passed its checks (docs/store-format.md, "Retention policy"). */
export interface VerifyRetentionPolicy {
  seq: number;
  segment: number;
  time: string;
  reason: 'configured' | 'carried';
  policy: RetentionPolicy;
}

/** Data older than the maximum age of the policy in force (`RETENTION_EXCEEDED`), per tenant. */
export interface VerifyOverAge {
  /** The tenant tag; null for records without one. */
  tenant: string | null;
  /** The oldest such record. */
  seq: number;
  segment: number;
  time: string;
  maxAgeMs: number;
}

/** A `session.open` record: a writer opened the store again. */
export interface VerifySession {
  seq: number;
  segment: number;
  time: string;
  keyId: string;
  /** How the writer before it ended, as the chain shows. */
  previous: 'closed' | 'crashed';
  /** Highest record the previous writer is known to have acknowledged. */
  attested: { seq: number; hash: string };
  /** Records signed over without anyone having acknowledged them (`RECOVERED_UNATTESTED`). */
  unattested: { fromSeq: number; toSeq: number } | null;
}

/** A `loss` record: appends that failed and were dropped (`RECORDS_LOST`). */
export interface VerifyLoss {
  seq: number;
  segment: number;
  /** StoreError code of the failure. */
  reason: string;
  count: number;
  firstTime: string;
  lastTime: string;
  runs: Array<{ run: string; count: number }>;
}

export interface VerifyProgress {
  segment: number;
  segments: number;
  bytes: number;
  totalBytes: number;
  records: number;
}

export interface VerifyOptions {
  /** Store directory. The default value is `./.agent-audit`. */
  dir?: string;
  /**
   * Trusted public key(s): KeyObject, PEM text, or a path to a PEM file. When absent, the
   * `public-key.pem` of `trustDir` is used. A key inside the store directory is never trusted.
   */
  publicKey?: KeyObject | string | Array<KeyObject | string>;
  /** Trust directory. The default value is `./.agent-audit-trust`. */
  trustDir?: string;
  /**
   * Anchor file to check against. The default value is `<trustDir>/anchor.jsonl`; `false`
   * skips the anchor check (the result is then at best exit code 2).
   */
  anchorPath?: string | false;
  /**
   * The origin (32 hex digits) the store must have. The default is the origin the anchor
   * binds to the store's path (its first line naming that path); see "Store identity" in
   * docs/store-format.md.
   */
  origin?: string;
  onProgress?: (progress: VerifyProgress) => void;
  /**
   * Hash every record one by one, also in sealed segments whose bulk digest matches their
   * seal (see docs/store-format.md, "Sealed-segment fast path"). Slower; the verdict on
   * tampering is the same. The default value is false.
   */
  full?: boolean;
  /**
   * The time data ages are measured against for `RETENTION_EXCEEDED`. The default is the
   * current time.
   */
  now?: Date;
}

export type VerifyStatus = 'verified' | 'tampered' | 'incomplete' | 'error';

export interface VerifyReport {
  exitCode: 0 | 1 | 2 | 3;
  status: VerifyStatus;
  dir: string;
  origin: string | null;
  records: number;
  bytes: number;
  segments: number;
  checkpoints: number;
  /** Highest sequence covered by a trusted signed checkpoint (0 when none). */
  signedThrough: number;
  headSeq: number;
  problems: VerifyProblem[];
  warnings: VerifyProblem[];
  recoveries: VerifyRecovery[];
  pruned: VerifyPrune[];
  /** Every `session.open` (each later writer open), in chain order. */
  sessions: VerifySession[];
  /** Every `loss` record, in chain order. */
  losses: VerifyLoss[];
  /**
   * The retention policy the chain records: every valid `retention.policy` record in chain
   * order (the last one is in force), and the data found past its maximum age.
   */
  retention: { policies: VerifyRetentionPolicy[]; overAge: VerifyOverAge[] };
  trustedKeys: string[];
  anchorChecked: boolean;
}
