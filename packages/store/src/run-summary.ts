import type { RecordTags, RunFilter, RunSummary } from './types.js';

export interface TagRow {
  seq: number;
  time: string;
  type: string;
  tags: RecordTags;
  /** On a `loss` row: how many of this run's records the writer could not store. */
  lost?: number;
}

/**
 * The rows a `loss` record contributes: one per run it names, so that a run whose records the
 * writer lost (disk full, I/O error) is listed as incomplete, even when none of its records
 * survived. Anything that is not a well-formed loss payload contributes nothing (verify
 * reports it).
 */
export function lossTagRows(seq: number, time: string, payload: unknown): TagRow[] {
  const runs = (payload as { runs?: unknown } | null)?.runs;
  if (!Array.isArray(runs)) return [];
  const out: TagRow[] = [];
  for (const entry of runs as Array<{ run?: unknown; count?: unknown }>) {
    if (typeof entry?.run !== 'string' || entry.run === '') continue;
    const count = typeof entry.count === 'number' ? entry.count : 0;
    out.push({ seq, time, type: 'loss', tags: { run: entry.run }, lost: count });
  }
  return out;
}

/**
 * A run's status, the one rule behind `runs`, `explain` and the console: the status of its
 * workflow span (the run's span without a parent). A tool call that failed or was refused inside
 * the run does not make the run an error — the agent may handle it and finish (the demo's stop
 * and approval do); the call keeps its own error status and decision, listed by `runs --actions`
 * and `explain`. Checked in order: anything incomplete (a span that never ended, lost records)
 * → `incomplete`; the workflow span ended in error → `error`; it ended otherwise (OTel leaves a
 * success UNSET) → `ok`; no workflow span here (a store holding only a sub-agent's part of the
 * run) but spans ended → `ok`, the workflow's store decides when stores are merged
 * (`mergeRunStatus`); nothing ended → `unknown`.
 */
export function runStatus(part: {
  incomplete: boolean;
  /** The workflow span's status (`ok`, `unset`, `error`), undefined when it is not here. */
  workflowStatus: string | undefined;
  anyEnded: boolean;
}): RunSummary['status'] {
  if (part.incomplete) return 'incomplete';
  if (part.workflowStatus === 'error') return 'error';
  if (part.workflowStatus !== undefined || part.anyEnded) return 'ok';
  return 'unknown';
}

const STATUS_RANK: Record<string, number> = { incomplete: 3, error: 2, ok: 1, unknown: 0 };

/** The status of one run seen in several stores: the most telling part (incomplete > error > ok). */
export function mergeRunStatus(a: string, b: string): string {
  return (STATUS_RANK[b] ?? 0) > (STATUS_RANK[a] ?? 0) ? b : a;
}

/**
 * One run as seen in a part of its records (a segment, a push, a store): its summary, and what
 * a later merge with the other parts needs to give the answer `summariseRuns` gives over all of
 * them at once — which spans it saw start and not end (`open`), which it saw end and not start
 * (`closes`), the workflow span's status when its end is here, whether any span ended here.
 * Empty lists and false flags are left out (the archive's run index stores parts).
 */
export interface RunPart extends RunSummary {
  /** Span keys started in this part and not ended in it. */
  open?: string[];
  /** Span keys ended in this part whose start is not in it. */
  closes?: string[];
  /** The workflow span's status (`ok`, `unset`, `error`) when it ended in this part. */
  workflow_status?: string;
  /** When that workflow span ended (of several, the last one's status counts). */
  workflow_at?: string;
  /** Some span ended in this part. */
  any_ended?: true;
}

interface RunAcc {
  run: string;
  principal: string | null;
  agent: string | null;
  start: string;
  end: string;
  started: Set<string>;
  ended: Set<string>;
  spans: Set<string>;
  tools: Set<string>;
  tenants: Set<string>;
  principals: Set<string>;
  agents: Set<string>;
  rootStatus: string | undefined;
  rootAt: string | undefined;
  anyEnd: boolean;
  lost: number;
}

function accumulate(rows: Iterable<TagRow>): Map<string, RunAcc> {
  const runs = new Map<string, RunAcc>();
  for (const r of rows) {
    const id = r.tags.run!;
    let a = runs.get(id);
    if (!a) {
      a = {
        run: id,
        principal: null,
        agent: null,
        start: r.time,
        end: r.time,
        started: new Set(),
        ended: new Set(),
        spans: new Set(),
        tools: new Set(),
        tenants: new Set(),
        principals: new Set(),
        agents: new Set(),
        rootStatus: undefined,
        rootAt: undefined,
        anyEnd: false,
        lost: 0,
      };
      runs.set(id, a);
    }
    if (r.time < a.start) a.start = r.time;
    if (r.time > a.end) a.end = r.time;
    if (r.type === 'loss') {
      a.lost += r.lost ?? 0;
      continue;
    }
    const t = r.tags;
    if (t.principal) {
      a.principal ??= t.principal;
      a.principals.add(t.principal);
    }
    if (t.agent) {
      a.agent ??= t.agent;
      a.agents.add(t.agent);
    }
    if (t.tool) a.tools.add(t.tool);
    if (t.tenant) a.tenants.add(t.tenant);
    const spanKey = t.span ?? `seq:${r.seq}`;
    if (r.type === 'span.start') {
      a.started.add(spanKey);
      a.spans.add(spanKey);
    } else if (r.type === 'span.end') {
      a.ended.add(spanKey);
      a.spans.add(spanKey);
      a.anyEnd = true;
      if (!t.parent) {
        a.rootStatus = t.status ?? 'unset';
        a.rootAt = r.time;
      }
    }
  }
  return runs;
}

/** A run's summary from what its parts add up to (the one place the status rule is applied). */
function finish(p: {
  run: string;
  principal: string | null;
  agent: string | null;
  start: string;
  end: string;
  spans: number;
  open: number;
  lost: number;
  rootStatus: string | undefined;
  anyEnd: boolean;
}): RunSummary {
  // Incomplete: a span that started and never ended, or records the writer lost.
  const incomplete = p.lost > 0 || p.open > 0;
  const status = runStatus({ incomplete, workflowStatus: p.rootStatus, anyEnded: p.anyEnd });
  return {
    run_id: p.run,
    principal: p.principal,
    agent_id: p.agent,
    start: p.start,
    end: p.end,
    status,
    spans: p.spans,
    incomplete,
    ...(p.lost > 0 ? { lost_records: p.lost } : {}),
  };
}

const newestFirst = (x: RunSummary, y: RunSummary) =>
  x.start < y.start ? 1 : x.start > y.start ? -1 : 0;

/** The runs of some of a run's records, as parts to merge with `mergeRunParts` (no filter). */
export function summariseRunParts(rows: Iterable<TagRow>): RunPart[] {
  const out: RunPart[] = [];
  for (const a of accumulate(rows).values()) {
    const open = [...a.started].filter((s) => !a.ended.has(s)).sort();
    const closes = [...a.ended].filter((s) => !a.started.has(s)).sort();
    out.push({
      ...finish({ ...a, spans: a.spans.size, open: open.length, rootStatus: a.rootStatus }),
      ...(open.length > 0 ? { open } : {}),
      ...(closes.length > 0 ? { closes } : {}),
      ...(a.rootStatus !== undefined
        ? { workflow_status: a.rootStatus, workflow_at: a.rootAt! }
        : {}),
      ...(a.anyEnd ? { any_ended: true as const } : {}),
    });
  }
  return out.sort(newestFirst);
}

/**
 * Two parts of one run as one part: the summary `summariseRuns` gives over both parts' records
 * together, whatever the order (a span started in one part and ended in the other is one
 * span, and no longer open). Of two workflow span ends, the later one's status counts, as the
 * later record's does in one pass.
 */
export function mergeRunParts(a: RunPart, b: RunPart): RunPart {
  const aOpen = new Set(a.open);
  const bOpen = new Set(b.open);
  const aCloses = new Set(a.closes);
  const bCloses = new Set(b.closes);
  const matched =
    [...aOpen].filter((s) => bCloses.has(s)).length +
    [...bOpen].filter((s) => aCloses.has(s)).length;
  const open = [
    ...[...aOpen].filter((s) => !bCloses.has(s)),
    ...[...bOpen].filter((s) => !aCloses.has(s)),
  ].sort();
  const closes = [
    ...[...aCloses].filter((s) => !bOpen.has(s)),
    ...[...bCloses].filter((s) => !aOpen.has(s)),
  ].sort();
  // The part that starts first names the principal and agent (the first record does in one
  // pass); the part that ends later gives the end.
  const [first, second] = b.start < a.start ? [b, a] : [a, b];
  const late = b.end < a.end ? a : b;
  // Of two workflow span ends, the later one's (on a tie, `b`'s: the part merged in later).
  const root =
    a.workflow_status === undefined ||
    (b.workflow_status !== undefined && b.workflow_at! >= a.workflow_at!)
      ? b
      : a;
  const rootStatus = root.workflow_status;
  const anyEnd = a.any_ended === true || b.any_ended === true;
  const lost = (a.lost_records ?? 0) + (b.lost_records ?? 0);
  return {
    ...finish({
      run: a.run_id,
      principal: first.principal ?? second.principal,
      agent: first.agent_id ?? second.agent_id,
      start: first.start,
      end: late.end,
      spans: a.spans + b.spans - matched,
      open: open.length,
      lost,
      rootStatus,
      anyEnd,
    }),
    ...(open.length > 0 ? { open } : {}),
    ...(closes.length > 0 ? { closes } : {}),
    ...(rootStatus !== undefined
      ? { workflow_status: rootStatus, workflow_at: root.workflow_at! }
      : {}),
    ...(anyEnd ? { any_ended: true as const } : {}),
  };
}

/** A part's summary alone (what `runs` prints), without what merging needs. */
export function runSummaryOf(part: RunPart): RunSummary {
  const {
    open: _open,
    closes: _closes,
    workflow_status: _status,
    workflow_at: _at,
    any_ended: _ended,
    ...summary
  } = part;
  return summary;
}

/** Aggregate tagged records into run rows (shared with the SQLite index). */
export function summariseRuns(rows: Iterable<TagRow>, filter: RunFilter): RunSummary[] {
  const out: RunSummary[] = [];
  for (const a of accumulate(rows).values()) {
    if (filter.principal !== undefined && !a.principals.has(filter.principal)) continue;
    if (filter.agent !== undefined && !a.agents.has(filter.agent)) continue;
    if (filter.tool !== undefined && !a.tools.has(filter.tool)) continue;
    if (filter.tenant !== undefined && !a.tenants.has(filter.tenant)) continue;
    if (filter.since && Date.parse(a.end) < filter.since.getTime()) continue;
    if (filter.until && Date.parse(a.start) > filter.until.getTime()) continue;
    let open = 0;
    for (const s of a.started) if (!a.ended.has(s)) open++;
    out.push(finish({ ...a, spans: a.spans.size, open, rootStatus: a.rootStatus }));
  }
  return out.sort(newestFirst);
}
