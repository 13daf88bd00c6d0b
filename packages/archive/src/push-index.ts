import { mergeRunParts, type RunPart } from '@agent-audit/store';
import {
  INDEX_FORMAT,
  type IndexedRun,
  type PushIndex,
  type PushManifest,
} from './push-manifest.js';

/** The runs of one archived segment (`SegmentSummary.runs`), in manifest order. */
export interface SegmentRuns {
  segment: number;
  runs: RunPart[];
}

/**
 * The run index of one push, derived from its manifest and its segments' records alone (the
 * pusher writes it; `archive reindex` rebuilds it and compares): the same inputs always give
 * the same bytes.
 */
export function buildPushIndex(
  origin: string,
  manifest: PushManifest,
  perSegment: SegmentRuns[],
): PushIndex {
  const runs = new Map<string, IndexedRun>();
  for (const { segment, runs: segmentRuns } of perSegment) {
    for (const r of segmentRuns) {
      const seen = runs.get(r.run_id);
      runs.set(
        r.run_id,
        seen
          ? { ...mergeRunParts(seen, r), segments: [...seen.segments, segment] }
          : { ...r, segments: [segment] },
      );
    }
  }
  const firstTime = manifest.segments.map((s) => s.firstTime).sort()[0] ?? null;
  const lastTime =
    manifest.segments
      .map((s) => s.lastTime)
      .sort()
      .at(-1) ?? null;
  return {
    format: INDEX_FORMAT,
    origin,
    push: manifest.push,
    host: manifest.host,
    store: manifest.store,
    firstTime,
    lastTime,
    runs: [...runs.values()],
  };
}

/**
 * The day a push index is filed under: the day it is written, never before its last record's
 * day (a query since a time reads the days from since's on).
 */
export function indexDayFor(index: PushIndex, manifest: PushManifest, now: Date): string {
  const written = now.toISOString().slice(0, 10);
  const lastDay = (index.lastTime ?? manifest.time).slice(0, 10);
  return [lastDay, written].sort()[1]!;
}
