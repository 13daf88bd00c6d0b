import {
  ATTR_AGENT_ID,
  ATTR_AUDIT_MISSING,
  ATTR_AUDIT_VIOLATION,
  ATTR_CREDENTIAL_REF,
  ATTR_DATA_CLASSIFICATION,
  ATTR_DECISION_OUTCOME,
  ATTR_DECISION_POLICY,
  ATTR_GEN_AI_AGENT_ID,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_INPUT_HASH,
  ATTR_PERMISSION_DENIAL_TYPE,
  ATTR_PERMISSION_DENIED,
  ATTR_TOOL_NAME,
  ATTR_WORKFLOW_RUN_ID,
} from '@agent-audit/instrumentation/attributes';
import {
  type AttributeValue,
  type OtlpSpanView,
  spanOfIntent,
  spansOfExportRequest,
} from '../otlp-json.js';
import { isToolCall, trailSpanOf } from '../trail-span.js';

// Issue 14's permission-denial names, from the one home of attribute names.
export const PERMISSION_DENIED = ATTR_PERMISSION_DENIED;
export const PERMISSION_DENIAL_TYPE = ATTR_PERMISSION_DENIAL_TYPE;

const F_ERROR = 1;
const F_DENIED = 2;
const F_UNGOVERNED = 4;
const F_VIOLATION = 8;
const F_ENDED = 16;
const F_COMPLETE = 32;
const F_CLASSIFIED = 64;

/** Interned strings: a column holds small integers, the table the strings once. */
class Interner {
  readonly values: string[] = [''];
  readonly #ids = new Map<string, number>([['', 0]]);
  id(value: string | null): number {
    if (value === null || value === '') return 0;
    let id = this.#ids.get(value);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(value);
      this.#ids.set(value, id);
    }
    return id;
  }
  find(value: string): number | undefined {
    return this.#ids.get(value);
  }
}

function str(value: AttributeValue | undefined): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function hasValue(value: AttributeValue | undefined): boolean {
  if (value === undefined || value === null || value === false || value === '') return false;
  return !(Array.isArray(value) && value.length === 0);
}

/**
 * A tool call by the one rule of trail-span.ts (`isToolCall`: an audit record, not a framework's
 * own telemetry of the same call, whose operation or name says execute_tool), on the raw view.
 */
function isToolSpan(view: OtlpSpanView, ended: boolean): boolean {
  return isToolCall(trailSpanOf(view, ended, null));
}

function nanosToMs(nanos: string | undefined): number {
  if (!nanos) return Number.NaN;
  return Number(BigInt(nanos) / 1000n) / 1000;
}

/** One approval request seen in the stores, and whether a decision on it was seen. */
interface Approval {
  run: string;
  tool: string | null;
  time: string | null;
  decided: boolean;
}

/** The dashboards' figures for one time window (see docs/console-api.md). */
export interface DashboardFigures {
  window: { since: string | null; until: string | null; seconds: number };
  tool_calls: number;
  activity: {
    by_tool: Array<{
      tool: string;
      calls: number;
      per_second: number;
      errors: number;
      error_rate: number;
      p50_ms: number | null;
      p95_ms: number | null;
      p99_ms: number | null;
    }>;
    by_agent: Array<{ agent: string; calls: number; per_second: number }>;
    /** Calls and denials per minute bucket (unix seconds of the minute's start). */
    per_minute: Array<{ minute: number; calls: number; errors: number; denials: number }>;
    latency_ms: { p50: number | null; p95: number | null; p99: number | null };
  };
  security: {
    denials_by_type: Array<{ type: string; count: number }>;
    ungoverned: Array<{ agent: string; tool: string; count: number }>;
    violations: Array<{ agent: string; tool: string; count: number }>;
  };
  compliance: {
    /** Ended tool calls with run id, agent, credential ref and input hash, no `audit.missing`. */
    complete_records: number;
    complete_share: number | null;
    /** Tool calls that carry `data.classification`. */
    classified: number;
    classified_share: number | null;
    /** Started tool calls whose end was never recorded. */
    incomplete_calls: number;
  };
}

/**
 * Every tool call of the stores as columns (time, duration, interned tool/agent/run/credential/
 * decision/denial type, flags): about 30 bytes a call, so a million calls stay in memory and a
 * dashboard window is one linear pass. Fed record by record as the console tails the stores.
 */
export class ToolCallTable {
  #size = 0;
  #time = new Float64Array(1024);
  #duration = new Float64Array(1024);
  #tool = new Uint32Array(1024);
  #agent = new Uint32Array(1024);
  #run = new Uint32Array(1024);
  #credential = new Uint32Array(1024);
  #decision = new Uint32Array(1024);
  #denial = new Uint32Array(1024);
  #flags = new Uint8Array(1024);
  readonly #strings = new Interner();
  /** Started tool calls not (yet) ended, by trace/span id. */
  readonly #open = new Map<string, number>();
  readonly #approvals = new Map<string, Approval>();

  get size(): number {
    return this.#size;
  }

  #grow(): void {
    const n = this.#time.length * 2;
    const grow = <T extends Float64Array | Uint32Array | Uint8Array>(
      a: T,
      make: (n: number) => T,
    ): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.#time = grow(this.#time, (k) => new Float64Array(k));
    this.#duration = grow(this.#duration, (k) => new Float64Array(k));
    this.#tool = grow(this.#tool, (k) => new Uint32Array(k));
    this.#agent = grow(this.#agent, (k) => new Uint32Array(k));
    this.#run = grow(this.#run, (k) => new Uint32Array(k));
    this.#credential = grow(this.#credential, (k) => new Uint32Array(k));
    this.#decision = grow(this.#decision, (k) => new Uint32Array(k));
    this.#denial = grow(this.#denial, (k) => new Uint32Array(k));
    this.#flags = grow(this.#flags, (k) => new Uint8Array(k));
  }

  #row(view: OtlpSpanView, ended: boolean): number {
    if (this.#size === this.#time.length) this.#grow();
    const i = this.#size++;
    const a = view.attributes;
    const s = this.#strings;
    const start = nanosToMs(view.startTimeUnixNano);
    const end = ended ? nanosToMs(view.endTimeUnixNano) : Number.NaN;
    this.#time[i] = Number.isFinite(end) ? end : start;
    this.#duration[i] = Number.isFinite(end) && Number.isFinite(start) ? end - start : Number.NaN;
    this.#tool[i] = s.id(str(a[ATTR_TOOL_NAME] ?? a[ATTR_GEN_AI_TOOL_NAME]));
    this.#agent[i] = s.id(str(a[ATTR_AGENT_ID] ?? a[ATTR_GEN_AI_AGENT_ID]));
    this.#run[i] = s.id(str(a[ATTR_WORKFLOW_RUN_ID]));
    this.#credential[i] = s.id(str(a[ATTR_CREDENTIAL_REF]));
    this.#decision[i] = s.id(str(a[ATTR_DECISION_OUTCOME]));
    const denied = a[PERMISSION_DENIED] === true;
    this.#denial[i] = denied ? s.id(str(a[PERMISSION_DENIAL_TYPE]) ?? 'unknown') : 0;
    let flags = 0;
    if (ended && view.statusCode === 2) flags |= F_ERROR;
    if (denied) flags |= F_DENIED;
    if (a[ATTR_DECISION_POLICY] === 'none') flags |= F_UNGOVERNED;
    if (hasValue(a[ATTR_AUDIT_VIOLATION])) flags |= F_VIOLATION;
    if (ended) flags |= F_ENDED;
    if (
      ended &&
      !hasValue(a[ATTR_AUDIT_MISSING]) &&
      hasValue(a[ATTR_WORKFLOW_RUN_ID]) &&
      hasValue(a[ATTR_AGENT_ID] ?? a[ATTR_GEN_AI_AGENT_ID]) &&
      hasValue(a[ATTR_CREDENTIAL_REF]) &&
      hasValue(a[ATTR_INPUT_HASH])
    ) {
      flags |= F_COMPLETE;
    }
    if (hasValue(a[ATTR_DATA_CLASSIFICATION])) flags |= F_CLASSIFIED;
    this.#flags[i] = flags;
    return i;
  }

  #events(view: OtlpSpanView): void {
    const run = str(view.attributes[ATTR_WORKFLOW_RUN_ID]) ?? '';
    for (const event of view.events) {
      const id = str(event.attributes['approval.id']) ?? `${view.traceId}/${view.spanId}`;
      if (event.name === 'approval.requested') {
        const seen = this.#approvals.get(id);
        if (!seen) {
          this.#approvals.set(id, {
            run,
            tool: str(view.attributes[ATTR_TOOL_NAME] ?? view.attributes[ATTR_GEN_AI_TOOL_NAME]),
            time: event.timeUnixNano ? new Date(nanosToMs(event.timeUnixNano)).toISOString() : null,
            decided: false,
          });
        }
      } else if (/^approval\.(granted|rejected|approved|denied|invalid)$/.test(event.name)) {
        const seen = this.#approvals.get(id);
        if (seen) seen.decided = true;
        else this.#approvals.set(id, { run, tool: null, time: null, decided: true });
      }
    }
  }

  /** Feed one store record (any type; only span records count). */
  add(type: string, payload: unknown): void {
    if (type === 'span.end') {
      for (const view of spansOfExportRequest(payload)) {
        this.#events(view);
        if (!isToolSpan(view, true)) continue;
        const key = `${view.traceId}/${view.spanId}`;
        const open = this.#open.get(key);
        if (open !== undefined) {
          // The pre-exec record was counted as a started call: replace it by the ended call.
          this.#open.delete(key);
          this.#flags[open] = 0xff;
        }
        this.#row(view, true);
      }
    } else if (type === 'span.start') {
      const view = spanOfIntent(payload);
      if (!view || !isToolSpan(view, false)) return;
      const key = `${view.traceId}/${view.spanId}`;
      // A store holds a span's start before its end: a start seen now has not ended yet.
      if (this.#open.has(key)) return;
      this.#open.set(key, this.#row(view, false));
    }
  }

  /** Run ids whose tool calls used this credential ref / got this decision outcome. */
  runsWith(filter: { credential?: string; decision?: string }): Set<string> {
    const out = new Set<string>();
    const cred =
      filter.credential === undefined ? undefined : this.#strings.find(filter.credential);
    const dec = filter.decision === undefined ? undefined : this.#strings.find(filter.decision);
    if (
      (filter.credential !== undefined && cred === undefined) ||
      (filter.decision !== undefined && dec === undefined)
    ) {
      return out;
    }
    for (let i = 0; i < this.#size; i++) {
      if (this.#flags[i] === 0xff) continue;
      if (cred !== undefined && this.#credential[i] !== cred) continue;
      if (dec !== undefined && this.#decision[i] !== dec) continue;
      out.add(this.#strings.values[this.#run[i]!]!);
    }
    return out;
  }

  /** Approvals requested and never granted or rejected, oldest first. */
  pendingApprovals(): Array<{
    approval_id: string;
    run_id: string;
    tool: string | null;
    requested_at: string | null;
  }> {
    const out = [];
    for (const [id, a] of this.#approvals) {
      if (!a.decided)
        out.push({ approval_id: id, run_id: a.run, tool: a.tool, requested_at: a.time });
    }
    return out.sort((x, y) => String(x.requested_at).localeCompare(String(y.requested_at)));
  }

  /** The dashboard figures for tool calls that ended (or started, if never ended) in [since, until). */
  figures(since: Date | undefined, until: Date | undefined): DashboardFigures {
    const from = since ? since.getTime() : Number.NEGATIVE_INFINITY;
    const to = until ? until.getTime() : Number.POSITIVE_INFINITY;
    const names = this.#strings.values;
    const byTool = new Map<number, { calls: number; errors: number; durations: number[] }>();
    const byAgent = new Map<number, number>();
    const perMinute = new Map<number, { calls: number; errors: number; denials: number }>();
    const denials = new Map<number, number>();
    const ungoverned = new Map<string, number>();
    const violations = new Map<string, number>();
    const all: number[] = [];
    let calls = 0;
    let complete = 0;
    let classified = 0;
    let incomplete = 0;
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < this.#size; i++) {
      const flags = this.#flags[i]!;
      const t = this.#time[i]!;
      if (flags === 0xff || !(t >= from && t < to)) continue;
      calls += 1;
      if (t < first) first = t;
      if (t > last) last = t;
      const tool = this.#tool[i]!;
      const agent = this.#agent[i]!;
      const entry = byTool.get(tool) ?? { calls: 0, errors: 0, durations: [] };
      byTool.set(tool, entry);
      entry.calls += 1;
      byAgent.set(agent, (byAgent.get(agent) ?? 0) + 1);
      const minute = Math.floor(t / 60_000) * 60;
      const m = perMinute.get(minute) ?? { calls: 0, errors: 0, denials: 0 };
      perMinute.set(minute, m);
      m.calls += 1;
      if (flags & F_ERROR) {
        entry.errors += 1;
        m.errors += 1;
      }
      if (flags & F_DENIED) {
        m.denials += 1;
        denials.set(this.#denial[i]!, (denials.get(this.#denial[i]!) ?? 0) + 1);
      }
      const pair = `${names[agent]}\u0000${names[tool]}`;
      if (flags & F_UNGOVERNED) ungoverned.set(pair, (ungoverned.get(pair) ?? 0) + 1);
      if (flags & F_VIOLATION) violations.set(pair, (violations.get(pair) ?? 0) + 1);
      if (flags & F_ENDED) {
        const d = this.#duration[i]!;
        if (Number.isFinite(d)) {
          entry.durations.push(d);
          all.push(d);
        }
      } else {
        incomplete += 1;
      }
      if (flags & F_COMPLETE) complete += 1;
      if (flags & F_CLASSIFIED) classified += 1;
    }
    const seconds =
      since && until
        ? Math.max(1, (to - from) / 1000)
        : calls > 0
          ? Math.max(1, ((until ? to : last) - (since ? from : first)) / 1000)
          : 1;
    const rate = (n: number) => Math.round((n / seconds) * 1000) / 1000;
    const pairs = (map: Map<string, number>) =>
      [...map]
        .map(([key, count]) => {
          const [agent, tool] = key.split('\u0000') as [string, string];
          return { agent, tool, count };
        })
        .sort(
          (x, y) =>
            y.count - x.count || x.agent.localeCompare(y.agent) || x.tool.localeCompare(y.tool),
        );
    all.sort((x, y) => x - y);
    return {
      window: {
        since: since ? since.toISOString() : null,
        until: until ? until.toISOString() : null,
        seconds,
      },
      tool_calls: calls,
      activity: {
        by_tool: [...byTool]
          .map(([tool, e]) => {
            e.durations.sort((x, y) => x - y);
            return {
              tool: names[tool]!,
              calls: e.calls,
              per_second: rate(e.calls),
              errors: e.errors,
              error_rate: e.calls > 0 ? e.errors / e.calls : 0,
              p50_ms: quantile(e.durations, 0.5),
              p95_ms: quantile(e.durations, 0.95),
              p99_ms: quantile(e.durations, 0.99),
            };
          })
          .sort((x, y) => y.calls - x.calls || x.tool.localeCompare(y.tool)),
        by_agent: [...byAgent]
          .map(([agent, n]) => ({ agent: names[agent]!, calls: n, per_second: rate(n) }))
          .sort((x, y) => y.calls - x.calls || x.agent.localeCompare(y.agent)),
        per_minute: [...perMinute]
          .map(([minute, m]) => ({ minute, ...m }))
          .sort((x, y) => x.minute - y.minute),
        latency_ms: { p50: quantile(all, 0.5), p95: quantile(all, 0.95), p99: quantile(all, 0.99) },
      },
      security: {
        denials_by_type: [...denials]
          .map(([type, count]) => ({ type: names[type]!, count }))
          .sort((x, y) => y.count - x.count || x.type.localeCompare(y.type)),
        ungoverned: pairs(ungoverned),
        violations: pairs(violations),
      },
      compliance: {
        complete_records: complete,
        complete_share: calls > 0 ? complete / calls : null,
        classified,
        classified_share: calls > 0 ? classified / calls : null,
        incomplete_calls: incomplete,
      },
    };
  }
}

/** Nearest-rank quantile of sorted values (null when there are none). */
export function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return Math.round(sorted[rank - 1]! * 1000) / 1000;
}
