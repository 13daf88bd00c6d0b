import { formatDuration } from '../format-table.js';
import { escapeValue } from '../terminal-text.js';
import type { TrailSpan } from '../trail-span.js';

/**
 * The run page's waterfall as the browser draws it (`GET /api/runs/<id>/timeline`): one
 * compact row per span in timeline order (each child under the call that started it, `depth`
 * for indentation), with what a row shows already made displayable (control characters and
 * bidirectional overrides as escapes, as the HTML report shows them) and its bar and event
 * marks placed on a 0–1000 scale of the run's time span. The browser renders only the rows
 * in view; a 5,000-span run is one small JSON answer and a few dozen DOM rows.
 */
export interface WaterfallRow {
  /** Raw ids (hex): the same values as `trail --json`. */
  span_id: string;
  parent_span_id: string | null;
  depth: number;
  name: string;
  process: string | null;
  tool: string | null;
  decision: string | null;
  credential_ref: string | null;
  input_hash: string | null;
  output_hash: string | null;
  duration: string;
  status: string;
  incomplete: boolean;
  /** Bar start and end on the 0–1000 scale. */
  x0: number;
  x1: number;
  events: Array<{ name: string; time: string | null; x: number; detail: string }>;
}

export interface WaterfallView {
  run_id: string;
  spans: number;
  events: number;
  start: string | null;
  end: string | null;
  rows: WaterfallRow[];
}

const shown = (value: string | null): string | null => (value === null ? null : escapeValue(value));

/** The attributes of an event a reviewer reads on the timeline (decision, approval, side effect…). */
const EVENT_DETAIL = /^(decision|approval|side_effect|policy|validation|credential)\./;

export function waterfallView(runId: string, spans: TrailSpan[]): WaterfallView {
  let t0: bigint | undefined;
  let t1: bigint | undefined;
  for (const s of spans) {
    for (const n of [s.start_unix_nano, s.end_unix_nano]) {
      if (n === null) continue;
      const v = BigInt(n);
      if (t0 === undefined || v < t0) t0 = v;
      if (t1 === undefined || v > t1) t1 = v;
    }
  }
  const first = t0 ?? 0n;
  const last = t1 ?? first + 1n;
  const total = Number(last - first) || 1;
  const x = (n: bigint) =>
    Math.round(Math.min(1000, Math.max(0, (Number(n - first) / total) * 1000)) * 10) / 10;
  let events = 0;
  const rows = spans.map((s): WaterfallRow => {
    const start = s.start_unix_nano ? BigInt(s.start_unix_nano) : first;
    const end = s.end_unix_nano ? BigInt(s.end_unix_nano) : last;
    events += s.events.length;
    return {
      span_id: s.span_id,
      parent_span_id: s.parent_span_id,
      depth: s.depth,
      name: escapeValue(s.name),
      process: s.service ? escapeValue(`${s.service}${s.pid === null ? '' : `[${s.pid}]`}`) : null,
      tool: shown(s.tool),
      decision: shown(s.decision),
      credential_ref: shown(s.credential_ref),
      input_hash: shown(s.input_hash),
      output_hash: shown(s.output_hash),
      duration: formatDuration(s.duration_ms),
      status: s.status,
      incomplete: s.incomplete,
      x0: x(start),
      x1: x(end),
      events: s.events.map((ev) => {
        const at = ev.time ? BigInt(Date.parse(ev.time)) * 1_000_000n : start;
        return {
          name: escapeValue(ev.name),
          time: ev.time,
          x: x(at),
          detail: escapeValue(
            Object.entries(ev.attributes)
              .filter(([k]) => EVENT_DETAIL.test(k))
              .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
              .join(' '),
          ),
        };
      }),
    };
  });
  const span = (n: bigint | undefined) =>
    n === undefined ? null : new Date(Number(n / 1_000_000n)).toISOString();
  return { run_id: runId, spans: rows.length, events, start: span(t0), end: span(t1), rows };
}
