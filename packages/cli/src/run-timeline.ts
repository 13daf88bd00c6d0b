import { spanOfIntent, spansOfExportRequest } from './otlp-json.js';
import { orderTimeline, type TrailSpan, trailSpanOf } from './trail-span.js';

/** The part of a store record the timeline reads (a `StoredRecord` of the store package). */
export interface SpanRecord {
  seq: number;
  type: string;
  payload: unknown;
  /** The store the record was read from, when a run is read from several. */
  store?: string;
}

/**
 * A run's timeline from its store records: every ended span (`span.end`, an OTLP/JSON
 * ExportTraceServiceRequest), plus every started span whose end was never recorded
 * (`span.start` pre-exec intent), which is shown as incomplete rather than left out —
 * a tool call interrupted by a crash is exactly what an incident review looks for.
 */
export function runTimeline(records: Iterable<SpanRecord>): TrailSpan[] {
  const ended = new Map<string, TrailSpan>();
  const started = new Map<string, TrailSpan>();
  for (const record of records) {
    if (record.type === 'span.end') {
      for (const view of spansOfExportRequest(record.payload)) {
        ended.set(
          `${view.traceId}/${view.spanId}`,
          trailSpanOf(view, true, record.seq, record.store ?? null),
        );
      }
    } else if (record.type === 'span.start') {
      const view = spanOfIntent(record.payload);
      if (view)
        started.set(
          `${view.traceId}/${view.spanId}`,
          trailSpanOf(view, false, record.seq, record.store ?? null),
        );
    }
  }
  for (const [key, span] of started) {
    if (!ended.has(key)) ended.set(key, span);
  }
  return orderTimeline([...ended.values()]);
}
