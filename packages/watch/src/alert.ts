import { createHash } from 'node:crypto';
import type { PatternName, Severity } from './watch-config.js';

/**
 * One alert: the payload of an `alert` record in the watcher's store, and what every sink
 * receives. Field names are part of the CLI contract (`--json`): add fields, never rename.
 */
export interface Alert {
  /** Stable: the same evidence always gives the same id (the sinks' de-duplication key). */
  id: string;
  pattern: PatternName;
  severity: Severity;
  agent_id: string;
  tool: string;
  tenant: string | null;
  /** The evidence: runs whose calls raised the alert (most calls first). */
  run_ids: string[];
  /** What was expected (e.g. calls per window, p99 bytes, seen shapes) and what was seen. */
  baseline: number | string | null;
  observed: number | string;
  /** Window of the observation, seconds (null for per-call patterns). */
  window_s: number | null;
  /** Why, in one line (no raw content: only names, counts, sizes and hashes). */
  reason: string;
  decision: string | null;
  /** Store directory and origin of the record that raised it, and its seq there. */
  store: string;
  origin: string;
  seq: number;
  /** Time of the record that raised it (the writer's clock), and when the watcher raised it. */
  event_time: string;
  detected_at: string;
  /** The command that investigates it. */
  explain: string;
}

/** The alert id: a hash of where the evidence is and what was found (no clock, no counter). */
export function alertId(origin: string, seq: number, pattern: PatternName, detail: string): string {
  return createHash('sha256')
    .update(`${origin}\n${seq}\n${pattern}\n${detail}`)
    .digest('hex')
    .slice(0, 32);
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:=@-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function explainCommand(runId: string | undefined, store: string): string {
  return runId
    ? `agent-audit explain ${shellQuote(runId)} --store ${shellQuote(store)}`
    : `agent-audit runs --store ${shellQuote(store)}`;
}

/** Control characters out of a value that reaches a terminal or a chat line. */
function clean(value: string | number | null): string {
  let out = '';
  for (const ch of String(value ?? '-')) {
    const c = ch.codePointAt(0)!;
    const control = c < 0x20 || (c >= 0x7f && c <= 0x9f);
    const bidi = (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
    out += control || bidi ? '?' : ch;
  }
  return out;
}

/**
 * The one-line form (stdout text, Slack): `support-agent decision=stop reason=… tenant=…
 * run_id=…` for a policy alert, `agent pattern=… tool=… observed=… baseline=… …` otherwise.
 */
export function alertLine(alert: Alert): string {
  const run = alert.run_ids[0] ?? '-';
  const parts =
    alert.pattern === 'policy'
      ? [
          clean(alert.agent_id),
          `decision=${clean(alert.decision)}`,
          `reason=${clean(alert.reason)}`,
          `tool=${clean(alert.tool)}`,
        ]
      : [
          clean(alert.agent_id),
          `pattern=${alert.pattern}`,
          `severity=${alert.severity}`,
          `tool=${clean(alert.tool)}`,
          `observed=${clean(alert.observed)}`,
          `baseline=${clean(alert.baseline)}`,
        ];
  parts.push(`tenant=${clean(alert.tenant)}`, `run_id=${clean(run)}`);
  if (alert.run_ids.length > 1) parts.push(`runs=${alert.run_ids.length}`);
  parts.push(`alert=${alert.id}`);
  return parts.join(' ');
}
