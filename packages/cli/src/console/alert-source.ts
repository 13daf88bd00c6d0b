import { openSegmentReader } from '@agent-audit/store';

/**
 * An alert of the watcher's alert store, as the console shows it: the documented fields of an
 * `alert` record's payload (packages/watch `Alert`, branch `watch`), each checked for its type
 * (a field of another type is shown as missing), with the record's seq and time.
 */
export interface AlertView {
  seq: number;
  time: string;
  id: string | null;
  pattern: string | null;
  severity: string | null;
  agent_id: string | null;
  tool: string | null;
  tenant: string | null;
  run_ids: string[];
  reason: string | null;
  observed: string | number | null;
  baseline: string | number | null;
  detected_at: string | null;
}

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const figure = (v: unknown): string | number | null =>
  typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) ? v : null;

/** Alert records from `seq` on, read through the store's hash-checking segment reader. */
export function readAlertStore(dir: string, seq = 1): { alerts: AlertView[]; nextSeq: number } {
  const reader = openSegmentReader(dir);
  try {
    const alerts: AlertView[] = [];
    let next = seq;
    for (;;) {
      const records = reader.recordsFrom(next, 1000);
      if (records.length === 0) break;
      for (const r of records) {
        next = r.seq + 1;
        if ((r.type as string) !== 'alert') continue;
        const p = (r.payload ?? {}) as Record<string, unknown>;
        alerts.push({
          seq: r.seq,
          time: r.time,
          id: text(p.id),
          pattern: text(p.pattern),
          severity: text(p.severity),
          agent_id: text(p.agent_id),
          tool: text(p.tool),
          tenant: text(p.tenant),
          run_ids: Array.isArray(p.run_ids)
            ? p.run_ids.filter((x): x is string => typeof x === 'string')
            : [],
          reason: text(p.reason),
          observed: figure(p.observed),
          baseline: figure(p.baseline),
          detected_at: text(p.detected_at),
        });
      }
    }
    return { alerts, nextSeq: next };
  } finally {
    reader.close();
  }
}
