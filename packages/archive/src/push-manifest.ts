import type { RunSummary } from '@agent-audit/store';

export const PUSH_FORMAT = 'agent-audit-archive-push/1';
export const INDEX_FORMAT = 'agent-audit-archive-index/1';

/** One archived object as a manifest names it. */
export interface ArchivedObject {
  key: string;
  size: number;
  /** Hex SHA-256 of the bytes (the object's ChecksumSHA256, in base64, is the same digest). */
  sha256: string;
  /** The version the push wrote, when the server versions the bucket. */
  versionId?: string;
}

export interface ArchivedSegment extends ArchivedObject {
  segment: number;
  firstSeq: number;
  lastSeq: number;
  firstTime: string;
  lastTime: string;
}

/**
 * Push manifest n of a store, `stores/<origin>/pushes/<n>.json`: what push n shipped, chained
 * to push n−1 by `prev` (the SHA-256 of its bytes). Written last, with If-None-Match, so it is
 * also the cursor: the next push starts after `lastSegment`.
 */
export interface PushManifest {
  format: typeof PUSH_FORMAT;
  origin: string;
  push: number;
  prev: string | null;
  host: string;
  store: string;
  time: string;
  retainUntil: string;
  /** Highest segment number archived so far (this push or an earlier one); 0 when none. */
  lastSegment: number;
  /** Last seq in `lastSegment`; 0 when none. */
  lastSeq: number;
  segments: ArchivedSegment[];
  /** Segments sealed in the store but absent from it when this push ran (deleted before push). */
  absent: number[];
  /**
   * The first records of the segment after `lastSegment` (its header and the checkpoint the
   * writer signs when it opens a segment, which covers every sealed record before it).
   */
  head: (ArchivedObject & { segment: number; lastSeq: number }) | null;
  checkpoints: (ArchivedObject & { lines: number }) | null;
  keys: Array<ArchivedObject & { keyId: string }>;
  recovered: ArchivedObject[];
}

/** A run as one push's index lists it, with the segments it has records in. */
export type IndexedRun = RunSummary & { segments: number[] };

/** `index/<day>/<origin>-<n>.json`: the runs of push n; derived from its segments alone. */
export interface PushIndex {
  format: typeof INDEX_FORMAT;
  origin: string;
  push: number;
  host: string;
  /** The store directory on its host (absent in indexes of an earlier format). */
  store?: string;
  firstTime: string | null;
  lastTime: string | null;
  runs: IndexedRun[];
}
