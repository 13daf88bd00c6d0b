export type { CanonicalFragment } from '@agent-audit/canonical-json';
export { AuditStore } from './audit-store.js';
export { canonicalFragment } from './canonical-json.js';
export { checkTrustLocation } from './custody.js';
export { StoreError } from './errors.js';
export type { FsLayer } from './fs-layer.js';
export { nodeFsLayer } from './fs-layer.js';
export { pruneStore } from './prune-store.js';
export type {
  RetentionAges,
  RetentionPolicy,
  RetentionPolicyInput,
} from './retention-policy.js';
export {
  agesFor,
  DURATION_UNIT_MS,
  formatAge,
  normaliseRetentionPolicy,
  parseRetentionAge,
  RETENTION_POLICY_ENV,
  readRetentionPolicyFile,
} from './retention-policy.js';
export { readStoreRetentionPolicy } from './retention-records.js';
export type { TagRow } from './run-summary.js';
export {
  lossTagRows,
  mergeRunParts,
  mergeRunStatus,
  type RunPart,
  runStatus,
  runSummaryOf,
  summariseRunParts,
  summariseRuns,
} from './run-summary.js';
export type { RawRecord, SegmentReader } from './segment-reader.js';
export { openSegmentReader } from './segment-reader.js';
export type { SigningKeyPair, WrittenKeyPair } from './signing-keys.js';
export { generateSigningKeyPair, keyIdOf, writeKeyPair } from './signing-keys.js';
export type {
  LocationSource,
  StoreLocationOptions,
  StoreLocations,
} from './store-locations.js';
export {
  DEFAULT_STORE_DIR,
  DEFAULT_TRUST_DIR,
  resolveStoreLocations,
  STORE_DIR_ENV,
  TRUST_DIR_ENV,
} from './store-locations.js';
export type { StorePaths } from './store-paths.js';
export { resolveStorePaths } from './store-paths.js';
export type { StoredSubjectKey } from './subject-key.js';
export { loadOrCreateSubjectKey, readSubjectKey, SUBJECT_KEY_FILE } from './subject-key.js';
export type { TrustedKeys } from './trusted-keys.js';
export { loadTrustedKeys } from './trusted-keys.js';
export type {
  AppendEntry,
  AppendResult,
  AuditStoreOptions,
  CheckpointBody,
  EntryType,
  JsonValue,
  PruneOptions,
  PruneResult,
  RecordTags,
  RecordType,
  RunFilter,
  RunSummary,
  SignedCheckpoint,
  StoredRecord,
  StoreNotice,
  VerifyLoss,
  VerifyOptions,
  VerifyOverAge,
  VerifyProblem,
  VerifyProgress,
  VerifyPrune,
  VerifyRecovery,
  VerifyReport,
  VerifyRetentionPolicy,
  VerifySession,
  VerifyStatus,
} from './types.js';
export type { VerifyProblemCode } from './verify/problem-codes.js';
export { PROBLEM_EXIT } from './verify/problem-codes.js';
export type { SegmentSource, SourceSegment } from './verify/segment-source.js';
export { localSegmentSource } from './verify/segment-source.js';
export { verifySource, verifyStore } from './verify-store.js';
