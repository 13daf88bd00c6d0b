import type { RunPart } from '@agent-audit/store';

export const PUSH_FORMAT = 'agent-audit-archive-push/1';
/**
 * 2: each run is a part (`RunPart`: the spans it saw start and not end, or end and not start,
 * and its workflow status), so runs crossing segments, pushes and hosts merge to what the
 * stores give. Indexes of format 1 are still read (`asRunPart`); `archive reindex` rewrites them.
 */
export const INDEX_FORMAT = 'agent-audit-archive-index/2';
/** Formats of push indexes earlier than INDEX_FORMAT that readers still accept. */
export const EARLIER_INDEX_FORMATS: readonly string[] = ['agent-audit-archive-index/1'];

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

/**
 * A run as one push's index lists it: its part in that push's segments (merged with its parts
 * in other pushes and stores by `mergeRunParts`), with the segments it has records in.
 */
export type IndexedRun = RunPart & { segments: number[] };

/**
 * A run read from an index of any format as a part. Format 1 stored summaries only: a run it
 * lists as incomplete stays incomplete whatever the other parts say (no span to match), its
 * status `error` counts as its workflow's, and any other status as spans that ended.
 */
export function asRunPart<R extends RunPart>(run: R): R {
  const part = run as RunPart;
  if (
    part.open !== undefined ||
    part.closes !== undefined ||
    part.workflow_status !== undefined ||
    part.any_ended !== undefined ||
    run.status === 'unknown'
  )
    return run;
  const legacy: R = { ...run };
  if (run.status !== 'incomplete') (legacy as RunPart).any_ended = true;
  if (run.status === 'error') {
    (legacy as RunPart).workflow_status = 'error';
    (legacy as RunPart).workflow_at = run.end;
  }
  if (run.incomplete && !run.lost_records) (legacy as RunPart).open = [LEGACY_OPEN];
  return legacy;
}

/** The open span of a format-1 index's incomplete run: no record ever closes it. */
const LEGACY_OPEN = '(index format 1: incomplete)';

/** `index/<day>/<origin>-<n>.json`: the runs of push n; derived from its segments alone. */
export interface PushIndex {
  /** INDEX_FORMAT when written by this version; an EARLIER_INDEX_FORMATS one when read. */
  format: string;
  origin: string;
  push: number;
  host: string;
  /** The store directory on its host (absent in indexes of an earlier format). */
  store?: string;
  firstTime: string | null;
  lastTime: string | null;
  runs: IndexedRun[];
}
