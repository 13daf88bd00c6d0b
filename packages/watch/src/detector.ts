import { type Alert, alertId, explainCommand } from './alert.js';
import { QuantileSketch, type SketchState } from './quantile-sketch.js';
import type { ToolCall } from './tool-call.js';
import type {
  PatternName,
  QuantileConfig,
  RateConfig,
  Severity,
  WatchConfig,
} from './watch-config.js';

/** Calls (or denials) of one (agent, tool) in the current window, and the learned rate. */
interface WindowRate {
  /** Start of the current window, ms (the writer's clock, aligned to the window size). */
  start: number;
  count: number;
  /** Calls per run in the current window (bounded), for the evidence. */
  runs: Record<string, number>;
  /** Number of runs in `runs`. */
  runCount?: number;
  alerted: boolean;
  /** Completed windows folded into `mean`. */
  windows: number;
  /** Mean count per active window (anomalous windows are not folded in). */
  mean: number;
  /** Mean, over the same windows, of the most calls one run made in a window (a loop's baseline). */
  runMean?: number;
}

interface KeyState {
  agent: string;
  tool: string;
  calls: number;
  shapes: string[];
  signals: string[];
  denialTypes: string[];
  freq: WindowRate;
  denials: WindowRate;
  output: SketchState | undefined;
  duration: SketchState | undefined;
}

/** The detectors' whole learned state, as persisted in the watcher's state file. */
export interface DetectorState {
  version: 1;
  keys: Record<string, KeyState>;
  /** End times (ms) of the latest tool calls of every agent and tool, oldest first. */
  recentEnds?: number[];
  /** execution_time alerts held until the calls after them settle them. */
  pending?: PendingSlow[];
}

interface PendingSlow {
  alert: Alert;
  end: number;
  /** Calls per ms before the slow call, calls expected during it, seen during and after it. */
  rate: number;
  expected: number;
  during: number;
  after: number;
}

/** Something worth a line on stderr that is not an alert (a clock jump in the records). */
export interface DetectorNotice {
  code: 'CLOCK_JUMP';
  message: string;
}

const MAX_RUNS = 200;
const MAX_SET = 1000;
const MAX_EVIDENCE = 20;
/** End times kept for telling a stalled process from a slow tool. */
const RECENT_ENDS = 1024;
/** How long after a slow call the calls that follow it are counted (ms). */
const SETTLE_MS = 1000;
/** Mean over at most this many windows: older windows fade (an exponential average after it). */
const MEAN_HORIZON = 50;

function emptyRate(): WindowRate {
  return { start: Number.NaN, count: 0, runs: {}, alerted: false, windows: 0, mean: 0 };
}

function evidence(runs: Record<string, number>): string[] {
  return Object.entries(runs)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, MAX_EVIDENCE)
    .map(([run]) => run);
}

function fmt(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/**
 * The five anomaly patterns and the policy rule, per (agent, tool), over tool calls in store
 * order. Deterministic: the same calls from the same state give the same alerts with the same
 * ids, which is what lets the watcher re-run a batch after a crash without repeating an alert.
 */
export class Detector {
  readonly #config: WatchConfig;
  readonly #keys = new Map<string, KeyState>();
  readonly #sketches = new Map<string, QuantileSketch>();
  readonly #now: () => Date;
  #recentEnds: number[];
  #pending: PendingSlow[];

  constructor(config: WatchConfig, state?: DetectorState, now: () => Date = () => new Date()) {
    this.#config = config;
    this.#now = now;
    this.#recentEnds = state?.recentEnds ?? [];
    this.#pending = state?.pending ?? [];
    for (const [k, v] of Object.entries(state?.keys ?? {})) this.#keys.set(k, v);
  }

  /** The learned state (call only between batches). */
  state(): DetectorState {
    const keys: Record<string, KeyState> = {};
    for (const [k, v] of this.#keys) {
      const out = this.#sketches.get(`${k}\u0000out`);
      const dur = this.#sketches.get(`${k}\u0000dur`);
      keys[k] = {
        ...v,
        output: out ? out.toJSON() : v.output,
        duration: dur ? dur.toJSON() : v.duration,
      };
    }
    return {
      version: 1,
      keys,
      recentEnds: [...this.#recentEnds],
      pending: this.#pending.map((p) => ({ ...p })),
    };
  }

  #sketch(key: string, which: 'out' | 'dur', k: KeyState): QuantileSketch {
    const id = `${key}\u0000${which}`;
    let s = this.#sketches.get(id);
    if (!s) {
      s = QuantileSketch.from(which === 'out' ? k.output : k.duration);
      this.#sketches.set(id, s);
    }
    return s;
  }

  /** Feeds one tool call; returns the alerts it raises (and notices such as a clock jump). */
  observe(call: ToolCall, notices: { code: string; message: string }[] = []): Alert[] {
    const key = `${call.agentId}\u0000${call.tool}`;
    let k = this.#keys.get(key);
    if (!k) {
      k = {
        agent: call.agentId,
        tool: call.tool,
        calls: 0,
        shapes: [],
        signals: [],
        denialTypes: [],
        freq: emptyRate(),
        denials: emptyRate(),
        output: undefined,
        duration: undefined,
      };
      this.#keys.set(key, k);
    }
    const p = this.#config.patterns;
    const learned = k.calls >= this.#config.learningMinCalls;
    const alerts: Alert[] = [];
    const build = (
      pattern: PatternName,
      severity: Severity,
      detail: string,
      fields: Pick<Alert, 'baseline' | 'observed' | 'window_s' | 'reason'>,
      runs?: string[],
    ): Alert => {
      const runIds = runs ?? (call.runId ? [call.runId] : []);
      return {
        id: alertId(call.origin, call.seq, pattern, detail),
        pattern,
        severity,
        agent_id: call.agentId,
        tool: call.tool,
        tenant: call.tenant,
        run_ids: runIds,
        ...fields,
        decision: call.decision,
        store: call.store,
        origin: call.origin,
        seq: call.seq,
        event_time: new Date(call.timeMs).toISOString(),
        detected_at: this.#now().toISOString(),
        explain: explainCommand(runIds[0], call.store),
      };
    };

    const raise = (...args: Parameters<typeof build>): void => {
      alerts.push(build(...args));
    };
    alerts.push(...this.#settle(call.timeMs, notices));
    // policy: a rule, no baseline.
    if (p.policy.enabled && call.decision && p.policy.outcomes.includes(call.decision)) {
      raise('policy', p.policy.severity, call.decision, {
        baseline: null,
        observed: call.decision,
        window_s: null,
        reason: call.decisionReason ?? `decision ${call.decision}`,
      });
    }

    // call_frequency: calls per window against the learned calls per active window (a flood),
    // and one run's calls in the window against the most one run made (a loop).
    const f = p.call_frequency;
    if (f.enabled) {
      const count = this.#count(k.freq, f, call, notices);
      const ready = learned && k.freq.windows >= f.minWindows && !k.freq.alerted;
      const threshold = Math.max(f.minCount, f.factor * k.freq.mean);
      const runMean = k.freq.runMean ?? 0;
      const runThreshold = Math.max(f.minCount, f.factor * runMean);
      const byRun =
        call.runId && Object.hasOwn(k.freq.runs, call.runId) ? k.freq.runs[call.runId]! : 0;
      if (ready && count > threshold) {
        k.freq.alerted = true;
        raise(
          'call_frequency',
          f.severity,
          `window ${k.freq.start}`,
          {
            baseline: fmt(k.freq.mean),
            observed: count,
            window_s: f.windowS,
            reason: `${count} calls in ${f.windowS} s, baseline ${fmt(k.freq.mean)} per window (threshold ${fmt(threshold)})`,
          },
          evidence(k.freq.runs),
        );
      } else if (ready && byRun > runThreshold) {
        k.freq.alerted = true;
        raise(
          'call_frequency',
          f.severity,
          `loop ${k.freq.start}`,
          {
            baseline: fmt(runMean),
            observed: byRun,
            window_s: f.windowS,
            reason: `one run made ${byRun} calls in ${f.windowS} s, baseline at most ${fmt(runMean)} per run per window (threshold ${fmt(runThreshold)}): a loop?`,
          },
          [call.runId!, ...evidence(k.freq.runs).filter((r) => r !== call.runId)].slice(
            0,
            MAX_EVIDENCE,
          ),
        );
      }
    }

    // new_input_shape: a structure or a content signal never seen for this tool.
    const s = p.new_input_shape;
    if (s.enabled && call.inputShape && !k.shapes.includes(call.inputShape)) {
      if (learned) {
        raise('new_input_shape', s.severity, `shape ${call.inputShape}`, {
          baseline: `${k.shapes.length} known shapes`,
          observed: call.inputShape,
          window_s: null,
          reason: `input shape never seen for this tool after ${k.calls} calls`,
        });
      }
      if (k.shapes.length < MAX_SET) k.shapes.push(call.inputShape);
    }
    if (s.enabled && s.signals) {
      for (const signal of call.inputSignals) {
        if (k.signals.includes(signal)) continue;
        if (learned) {
          raise('new_input_shape', s.severity, `signal ${signal}`, {
            baseline: k.signals.length > 0 ? k.signals.join(',') : 'no signals',
            observed: `signal:${signal}`,
            window_s: null,
            reason: `input signal ${signal} never seen for this tool`,
          });
        }
        if (k.signals.length < MAX_SET) k.signals.push(signal);
      }
    }

    // permission_denials: a spike in a window, or a denial type never seen.
    const d = p.permission_denials;
    if (d.enabled && call.denialType) {
      const count = this.#count(k.denials, d, call, notices);
      const threshold =
        k.denials.windows > 0 ? Math.max(d.minCount, d.factor * k.denials.mean) : d.minCount;
      if (!k.denials.alerted && count >= threshold) {
        k.denials.alerted = true;
        raise(
          'permission_denials',
          d.severity,
          `window ${k.denials.start}`,
          {
            baseline: fmt(k.denials.mean),
            observed: count,
            window_s: d.windowS,
            reason: `${count} permission denials in ${d.windowS} s (latest type ${call.denialType}), baseline ${fmt(k.denials.mean)} per window`,
          },
          evidence(k.denials.runs),
        );
      } else if (d.newType && learned && !k.denialTypes.includes(call.denialType)) {
        raise('permission_denials', d.severity, `type ${call.denialType}`, {
          baseline: k.denialTypes.length > 0 ? k.denialTypes.join(',') : 'no denials',
          observed: `type:${call.denialType}`,
          window_s: null,
          reason: `permission denial of type ${call.denialType}, never seen for this tool`,
        });
      }
      if (!k.denialTypes.includes(call.denialType) && k.denialTypes.length < MAX_SET) {
        k.denialTypes.push(call.denialType);
      }
    }

    this.#quantile(
      key,
      k,
      'out',
      p.output_size,
      call.outputSize,
      'output_size',
      'bytes',
      learned,
      raise,
    );
    this.#quantile(
      key,
      k,
      'dur',
      p.execution_time,
      call.durationMs,
      'execution_time',
      'ms',
      learned,
      (...args) => this.#defer(build(...args), call),
    );
    this.#recentEnds.push(call.timeMs);
    if (this.#recentEnds.length > RECENT_ENDS) this.#recentEnds.shift();
    k.calls++;
    return alerts;
  }

  #quantile(
    key: string,
    k: KeyState,
    which: 'out' | 'dur',
    c: QuantileConfig,
    value: number | null,
    pattern: PatternName,
    unit: string,
    learned: boolean,
    raise: (
      p: PatternName,
      s: Severity,
      d: string,
      f: Pick<Alert, 'baseline' | 'observed' | 'window_s' | 'reason'>,
    ) => void,
  ): void {
    if (!c.enabled || value === null) return;
    const sketch = this.#sketch(key, which, k);
    if (learned && sketch.count >= this.#config.learningMinCalls) {
      const q = sketch.quantile(c.quantile);
      const threshold = Math.max(c.minValue, c.factor * q);
      if (value > threshold) {
        raise(pattern, c.severity, `${which}`, {
          baseline: fmt(q),
          observed: fmt(value),
          window_s: null,
          reason: `${fmt(value)} ${unit}, p${fmt(c.quantile * 100)} baseline ${fmt(q)} ${unit} (threshold ${fmt(threshold)})`,
        });
        // An anomalous value is not learned: the baseline stays the normal traffic's.
        return;
      }
    }
    sketch.accept(value);
  }

  /**
   * An execution_time alert waits until the calls after it tell a slow tool from a stalled
   * process (CPU starvation, a long GC pause, a suspended VM): while a process stalls no call
   * ends, then traffic resumes. So the alert is dropped (a HOST_STALL notice) when far fewer
   * calls ended during the slow call than the rate just before it predicts (at least 5
   * expected, fewer than a fifth seen) and calls ended again within {@link SETTLE_MS} after it;
   * otherwise — a slow call among live traffic, or traffic that stopped — it is raised. Calls
   * end in store order, so those that ended during it were all seen before it.
   */
  #defer(alert: Alert, call: ToolCall): void {
    const end = call.timeMs;
    const start = end - (call.durationMs ?? 0);
    const ends = this.#recentEnds;
    const oldest = ends[0];
    let before = 0;
    let during = 0;
    const lookback =
      oldest === undefined ? 0 : Math.min(Math.max(end - start, 1000), start - oldest);
    for (const t of ends) {
      if (t >= start - lookback && t < start) before++;
      else if (t >= start && t < end) during++;
    }
    const rate = lookback > 0 ? before / lookback : 0;
    this.#pending.push({ alert, end, rate, expected: rate * (end - start), during, after: 0 });
  }

  /** Judges the held execution_time alerts whose settling time passed by `now` (event time). */
  #settle(now: number, notices: { code: string; message: string }[]): Alert[] {
    if (this.#pending.length === 0) return [];
    const out: Alert[] = [];
    const keep: PendingSlow[] = [];
    for (const p of this.#pending) {
      if (now > p.end && now <= p.end + SETTLE_MS) p.after++;
      if (now > p.end + SETTLE_MS || now < p.end - SETTLE_MS * 60) this.#judge(p, out, notices);
      else keep.push(p);
    }
    this.#pending = keep;
    return out;
  }

  #judge(p: PendingSlow, out: Alert[], notices: { code: string; message: string }[]): void {
    const resumed = p.after >= Math.max(1, p.rate * SETTLE_MS * 0.5);
    if (p.expected >= 5 && p.during < p.expected / 5 && resumed) {
      notices.push({
        code: 'HOST_STALL',
        message: `${p.alert.store} seq ${p.alert.seq}: ${p.alert.agent_id}/${p.alert.tool} took ${p.alert.observed} ms, but only ${p.during} calls ended meanwhile where ${fmt(p.expected)} were expected, and traffic resumed after it: the process stalled, not the tool (no execution_time alert)`,
      });
      return;
    }
    out.push({ ...p.alert, detected_at: this.#now().toISOString() });
  }

  /**
   * Raises or drops every held execution_time alert with what is known now (the end of a
   * history, a watcher with nothing new to read for a while): no more traffic came after them.
   */
  flush(notices: { code: string; message: string }[] = []): Alert[] {
    const out: Alert[] = [];
    for (const p of this.#pending) this.#judge(p, out, notices);
    this.#pending = [];
    return out;
  }

  /**
   * Counts the call in its window (aligned to the window size on the writer's clock) and
   * returns the window's count. A window that ended folds into the mean unless it alerted. A
   * clock that went back by more than a window restarts the window there (a notice, no alert);
   * a slightly late call counts in the current window.
   */
  #count(
    w: WindowRate,
    c: RateConfig,
    call: ToolCall,
    notices: { code: string; message: string }[],
  ): number {
    const size = c.windowS * 1000;
    const t = call.timeMs;
    const aligned = Math.floor(t / size) * size;
    if (Number.isNaN(w.start)) {
      w.start = aligned;
    } else if (t >= w.start + size || t < w.start - size) {
      if (t < w.start - size) {
        notices.push({
          code: 'CLOCK_JUMP',
          message: `${call.store} seq ${call.seq}: the writer's clock went back ${fmt((w.start - t) / 1000)} s; windows of ${call.agentId}/${call.tool} restart at the new time`,
        });
      } else if (w.count > 0 && !w.alerted) {
        w.windows++;
        const n = Math.min(w.windows, MEAN_HORIZON);
        w.mean += (w.count - w.mean) / n;
        const most = Math.max(0, ...Object.values(w.runs));
        w.runMean = (w.runMean ?? 0) + (most - (w.runMean ?? 0)) / n;
      }
      w.start = aligned;
      w.count = 0;
      w.runs = {};
      w.runCount = 0;
      w.alerted = false;
    }
    w.count++;
    const run = call.runId;
    if (run && run !== '__proto__') {
      if (Object.hasOwn(w.runs, run)) w.runs[run]!++;
      else {
        // A busy window holds more runs than the bound: runs seen once make room (one scan,
        // amortized), so a run that starts looping late in the window is still counted. The
        // most calls by one run (the loop baseline) is unchanged: every evicted run made one.
        if ((w.runCount ?? 0) >= MAX_RUNS) {
          for (const id of Object.keys(w.runs)) {
            if (w.runs[id] === 1) delete w.runs[id];
          }
          w.runCount = Object.keys(w.runs).length;
        }
        if ((w.runCount ?? 0) < MAX_RUNS) {
          w.runs[run] = 1;
          w.runCount = (w.runCount ?? 0) + 1;
        }
      }
    }
    return w.count;
  }
}
