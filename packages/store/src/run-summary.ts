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

/** Aggregate tagged records into run rows (shared with the SQLite index). */
export function summariseRuns(rows: Iterable<TagRow>, filter: RunFilter): RunSummary[] {
  interface Acc {
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
    anyEnd: boolean;
    lost: number;
  }
  const runs = new Map<string, Acc>();
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
      if (!t.parent) a.rootStatus = t.status ?? 'unset';
    }
  }
  const out: RunSummary[] = [];
  for (const a of runs.values()) {
    if (filter.principal !== undefined && !a.principals.has(filter.principal)) continue;
    if (filter.agent !== undefined && !a.agents.has(filter.agent)) continue;
    if (filter.tool !== undefined && !a.tools.has(filter.tool)) continue;
    if (filter.tenant !== undefined && !a.tenants.has(filter.tenant)) continue;
    if (filter.since && Date.parse(a.end) < filter.since.getTime()) continue;
    if (filter.until && Date.parse(a.start) > filter.until.getTime()) continue;
    // Incomplete: a span that started and never ended, or records the writer lost.
    let incomplete = a.lost > 0;
    for (const s of a.started) if (!a.ended.has(s)) incomplete = true;
    const status = runStatus({ incomplete, workflowStatus: a.rootStatus, anyEnded: a.anyEnd });
    out.push({
      run_id: a.run,
      principal: a.principal,
      agent_id: a.agent,
      start: a.start,
      end: a.end,
      status,
      spans: a.spans.size,
      incomplete,
      ...(a.lost > 0 ? { lost_records: a.lost } : {}),
    });
  }
  return out.sort((x, y) => (x.start < y.start ? 1 : x.start > y.start ? -1 : 0));
}
