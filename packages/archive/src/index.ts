export type { ParsedKey } from './archive-keys.js';
export { archiveKeys, parseKey } from './archive-keys.js';
export type { ArchiveLocation } from './archive-location.js';
export { archiveClient, describeS3Error, parseArchiveUrl } from './archive-location.js';
export type {
  ArchiveRunRecord,
  ArchiveRunRecords,
  ArchiveRunRecordsOptions,
} from './archive-run-records.js';
export { archiveRunRecords } from './archive-run-records.js';
export type { ArchiveRun, ArchiveRunsOptions } from './archive-runs.js';
export { archiveRuns } from './archive-runs.js';
export type { IndexRollup, RolledRun, RunLocation, RunRollup } from './index-rollup.js';
export { compactIndexDay, listIndexDays, listKeys, ROLLUP_SHARDS } from './index-rollup.js';
export type { PushOptions, PushResult } from './push-archive.js';
export { DEFAULT_RETAIN_DAYS, lastPush, pushStore, RETAIN_DAYS_ENV } from './push-archive.js';
export type {
  ArchivedObject,
  ArchivedSegment,
  IndexedRun,
  PushIndex,
  PushManifest,
} from './push-manifest.js';
export type {
  ReindexOptions,
  ReindexProblem,
  ReindexProblemCode,
  ReindexResult,
} from './reindex-archive.js';
export { reindexArchive } from './reindex-archive.js';
export type { SpooledStore } from './s3-segment-source.js';
export { s3SegmentSource } from './s3-segment-source.js';
export type {
  ArchiveProblem,
  ArchiveProblemCode,
  ArchiveStoreReport,
  ArchiveVerifyReport,
  VerifyArchiveOptions,
} from './verify-archive.js';
export { verifyArchive } from './verify-archive.js';
