/**
 * Every problem code `verifyStore` can report, with what it does to the exit code: one table,
 * documented row by row in docs/store-format.md ("Exit codes"); a unit test checks that every
 * code below appears there.
 *
 * `1` tampering · `2` cannot fully verify · `3` usage or I/O error · `warning` no effect.
 */
export const PROBLEM_EXIT = {
  // Records and the chain
  RECORD_HASH_MISMATCH: 1,
  RECORD_NOT_CANONICAL: 1,
  RECORD_MALFORMED: 1,
  CHAIN_BROKEN: 1,
  SEQUENCE_GAP: 1,
  SEQUENCE_REGRESSION: 1,
  RECORD_TYPE_UNKNOWN: 2,
  // Segments
  SEGMENT_MISSING: 1,
  SEGMENT_HEADER_MISSING: 1,
  SEGMENT_HEADER_INVALID: 1,
  SEGMENT_HEADER_MISPLACED: 1,
  SEGMENT_RENAMED: 1,
  ORIGIN_MISMATCH: 1,
  SEGMENT_NOT_SEALED: 1,
  SEGMENT_TRUNCATED: 1,
  SEGMENT_SEAL_MISMATCH: 1,
  RECORD_AFTER_SEAL: 1,
  // Checkpoints, anchor, identity
  CHECKPOINT_MALFORMED: 1,
  CHECKPOINT_BAD_SIGNATURE: 1,
  CHECKPOINT_UNTRUSTED_KEY: 1,
  CHECKPOINT_ORIGIN_MISMATCH: 1,
  CHECKPOINT_MISPLACED: 1,
  CHECKPOINT_HEAD_MISMATCH: 1,
  CHECKPOINT_BEYOND_END: 1,
  CHECKPOINT_RECORD_MISSING: 1,
  CHECKPOINT_LOG_MISSING: 1,
  ANCHOR_BEYOND_END: 1,
  ANCHOR_HEAD_MISMATCH: 1,
  WITNESS_BEYOND_END: 1,
  WITNESS_HEAD_MISMATCH: 1,
  STORE_IDENTITY_MISMATCH: 1,
  STORE_SYMLINK: 1,
  // Signed statements and other special records
  PRUNE_MALFORMED: 1,
  PRUNE_BAD_SIGNATURE: 1,
  RECOVERY_MALFORMED: 1,
  STATEMENT_MALFORMED: 1,
  STATEMENT_BAD_SIGNATURE: 1,
  RECORD_AFTER_CLOSE: 1,
  SESSION_MISPLACED: 1,
  RETENTION_POLICY_MISPLACED: 1,
  // Cannot fully verify
  RECOVERED_UNATTESTED: 2,
  RECORDS_LOST: 2,
  UNSIGNED_TAIL: 2,
  NO_CHECKPOINT: 2,
  NO_TRUSTED_KEY: 2,
  TORN_TAIL: 2,
  ANCHOR_MISSING: 2,
  ANCHOR_NOT_CHECKED: 2,
  ANCHOR_NO_ENTRIES: 2,
  STORE_EMPTY: 2,
  // Usage or I/O
  STORE_NOT_FOUND: 3,
  KEY_UNREADABLE: 3,
  KEY_INVALID: 3,
  ANCHOR_UNREADABLE: 3,
  IO_ERROR: 3,
  // Warnings
  TIME_REGRESSION: 'warning',
  SEGMENT_SEALED_DAMAGED: 'warning',
  RECOVERED_BYTES_MISSING: 'warning',
  RECOVERED_BYTES_CHANGED: 'warning',
  KEY_INSIDE_STORE_IGNORED: 'warning',
  ANCHOR_MALFORMED: 'warning',
  CHECKPOINT_LOG_MALFORMED: 'warning',
  CHECKPOINT_LOG_INCOMPLETE: 'warning',
  RETENTION_EXCEEDED: 'warning',
  RETENTION_POLICY_WEAKENED: 'warning',
  PROBLEMS_OMITTED: 'warning',
} as const satisfies Record<string, 1 | 2 | 3 | 'warning'>;

/** One of the codes of `PROBLEM_EXIT`. */
export type VerifyProblemCode = keyof typeof PROBLEM_EXIT;

export type ProblemKind = 'tampering' | 'unverifiable' | 'io' | 'warning';

const KIND_OF_EXIT = { 1: 'tampering', 2: 'unverifiable', 3: 'io', warning: 'warning' } as const;

/** The kind a code is reported as (`tampering` → exit 1, `unverifiable` → 2, `io` → 3). */
export function kindOf(code: VerifyProblemCode): ProblemKind {
  return KIND_OF_EXIT[PROBLEM_EXIT[code]];
}

/** Every code, in table order. */
export const PROBLEM_CODES = Object.keys(PROBLEM_EXIT) as VerifyProblemCode[];
